// Package hostile is cxloop's hostile corpus: inputs an attacker, a broken
// export or a careless API would send, each run through the real operator
// (the reconcilers of controllers.SetupAll in a manager against a real
// kube-apiserver and etcd) and each ending with the same hunt: a set of
// canary secret values (random strings, stored with trailing newlines and
// upper-cased, and their base64 and basic-auth forms) kept in opted-in
// Secrets that DataSources and Teams reference must appear in no status of
// any cxloop object, no Event, no line of the manager's log (at debug
// level) and no series the Prometheus exporter publishes.
//
// The groups, and what each proves:
//
//   - Manifests (manifests_test.go): every file of test/manifests/invalid
//     is refused by the API server as Invalid, and by `kubectl cx
//     validate`, with the same causes (field and reason) and the message
//     its "# expect:" line names; among them URLs in file, gopher and
//     javascript schemes, a JQL injection in a Jira project, a channel name
//     climbing directories and a response cap above the maximum. A costly CEL expression, the one check
//     only the operator and validate make, is admitted by the server,
//     refused by validate as ExpressionTooCostly and stalled by the
//     operator with the same reason, while its input Metric keeps its
//     value.
//   - Source inputs (sources_test.go, sources_net_test.go): CSV files with
//     a 2 MiB line, an unterminated quote, 20,000 segments or an unknown
//     column; HTTP JSON answers with a 2 MiB record, deep nesting, 128 KiB
//     of headers, an endless body, a redirect to 169.254.169.254, error
//     pages echoing the credentials, an address outside the allowance;
//     Prometheus answers of a million series or 40 MiB, error pages echoing
//     the bearer token, redirects; SQLite randomblob(900000000), a
//     statement that writes, symlinks climbing out of the data root;
//     PostgreSQL at link-local, private and refused loopback addresses,
//     refused before any packet. Each fails with its typed reason
//     (TooLarge, TooManySegments, BadQuery, AuthFailed, AddressNotAllowed,
//     PathNotAllowed, SecretNotFound, Unreachable) on its own DataSource or
//     Metric, and a sentinel Metric elsewhere is then measured afresh with
//     its exact value: the manager survived and good data is intact.
//   - Data (sources_data_test.go): segment values that are not UTF-8, or
//     4 KiB long, are measured exactly; the status and every exported
//     label stay valid UTF-8 and bounded, and the exporter still gathers.
//   - Bounded memory (memory_test.go): the largest inputs are given to the
//     drivers directly, and the live heap's peak growth over the query is
//     measured and bounded.
//   - Channels (channels_test.go): webhook, Slack, GitHub and Jira channels
//     whose servers answer errors echoing the signed request, the token or
//     the basic auth, redirect to the metadata address, or sit on hosts the
//     manager does not allow; each records a failed delivery saying why,
//     while a good channel of the same Team receives the event.
//   - Owner edits (owner_test.go): patches that null, change or add a
//     task's recorded facts, skip resolution attempts or remove a
//     resolution are refused by the API server naming the field, and the
//     facts stay as they were. The label policy on tasks is proved by
//     test/policy.
//
// The suite needs KUBEBUILDER_ASSETS, as `make test` sets it.
package hostile
