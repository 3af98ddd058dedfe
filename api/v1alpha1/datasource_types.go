package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataSourceType names the driver that reads a DataSource.
// +kubebuilder:validation:Enum=postgres;sqlite;prometheus;httpjson;csv
type DataSourceType string

// The supported DataSource drivers.
const (
	DataSourcePostgres   DataSourceType = "postgres"
	DataSourceSQLite     DataSourceType = "sqlite"
	DataSourcePrometheus DataSourceType = "prometheus"
	DataSourceHTTPJSON   DataSourceType = "httpjson"
	DataSourceCSV        DataSourceType = "csv"
)

// DataSourceSpec says where customer-experience data lives and how to reach it.
// Exactly one settings block, the one named by type, must be set.
// +kubebuilder:validation:XValidation:rule="has(self.postgres) == (self.type == 'postgres')",message="postgres settings must be set when, and only when, type is postgres"
// +kubebuilder:validation:XValidation:rule="has(self.sqlite) == (self.type == 'sqlite')",message="sqlite settings must be set when, and only when, type is sqlite"
// +kubebuilder:validation:XValidation:rule="has(self.prometheus) == (self.type == 'prometheus')",message="prometheus settings must be set when, and only when, type is prometheus"
// +kubebuilder:validation:XValidation:rule="has(self.httpJSON) == (self.type == 'httpjson')",message="httpJSON settings must be set when, and only when, type is httpjson"
// +kubebuilder:validation:XValidation:rule="has(self.csv) == (self.type == 'csv')",message="csv settings must be set when, and only when, type is csv"
type DataSourceSpec struct {
	// type of the source: postgres (PostgreSQL or any engine speaking its
	// protocol and SQL), sqlite (an embedded SQLite file), prometheus (PromQL
	// over the Prometheus HTTP API), httpjson (a REST API returning JSON
	// records) or csv (an export file).
	// +required
	Type DataSourceType `json:"type"`

	// postgres holds the connection settings when type is postgres.
	// +optional
	Postgres *PostgresSource `json:"postgres,omitempty"`

	// sqlite holds the file settings when type is sqlite.
	// +optional
	SQLite *SQLiteSource `json:"sqlite,omitempty"`

	// prometheus holds the server settings when type is prometheus.
	// +optional
	Prometheus *PrometheusSource `json:"prometheus,omitempty"`

	// httpJSON holds the endpoint settings when type is httpjson.
	// +optional
	HTTPJSON *HTTPJSONSource `json:"httpJSON,omitempty"`

	// csv holds the file settings when type is csv.
	// +optional
	CSV *CSVSource `json:"csv,omitempty"`

	// secretRef names a Secret in this DataSource's namespace holding its
	// credentials; cxloop reads it only when it carries the label
	// cxloop.dev/secret: "true". Which keys are read depends on the type:
	// postgres reads "username" and "password", and "ca.crt" (the PEM of
	// the CA that signs the server's certificate) when present; prometheus reads "token", or "username" and
	// "password"; httpjson reads "token" and the keys its headers name.
	// Credentials never appear in status, events or logs.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// queryTimeout bounds every query against this source, as a Go duration
	// from "1s" to "10m", such as "30s" or "2m". A query that runs longer is
	// cancelled and reported as a timeout. The ceiling keeps one slow
	// warehouse from holding the operator's connections and workers: push
	// heavy work into a materialized view instead.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('10m')",message="queryTimeout must lie between 1s and 10m; a query needing longer belongs in a materialized view the metric reads"
	// +optional
	QueryTimeout string `json:"queryTimeout,omitempty"`

	// maxConnections caps the connections the operator opens to this source
	// at once, shared by all Metrics that read it.
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	MaxConnections int32 `json:"maxConnections,omitempty"`
}

// PostgresSource holds the settings of a PostgreSQL connection.
type PostgresSource struct {
	// host name or address of the server.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`
	// port of the server.
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// database to connect to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database"`
	// sslMode as libpq understands it. The default, require, encrypts the
	// connection but does not authenticate the server unless the Secret
	// holds a CA; verify-ca checks the server's certificate chain and
	// verify-full also its host name, against the CA in the Secret's
	// "ca.crt" key (PEM) when present, otherwise the trusted CAs of the
	// manager's image. verify-full is the mode to use across networks you
	// do not control. allow and prefer fall back to plaintext when the
	// server or an attacker in between refuses TLS, and disable never
	// encrypts: use them only for a server on the same host or a trusted
	// link (a CA in the Secret is refused with them).
	// +kubebuilder:default=require
	// +kubebuilder:validation:Enum=disable;allow;prefer;require;verify-ca;verify-full
	// +optional
	SSLMode string `json:"sslMode,omitempty"`
}

// SQLiteSource holds the settings of an SQLite database file.
type SQLiteSource struct {
	// path of the database file, relative to one of the data roots the
	// manager was started with (--data-root), such as "warehouse.db". The
	// file is opened read-only; an absolute path or one with a ".." segment
	// is refused.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && self != '..' && !self.startsWith('../') && !self.endsWith('/..') && !self.contains('/../')",message="path must be relative to the manager's --data-root, without a leading / or .. segments, such as warehouse.db"
	Path string `json:"path"`
}

// PrometheusSource holds the settings of a Prometheus server.
type PrometheusSource struct {
	// url of the Prometheus HTTP API, such as http://prometheus.monitoring:9090.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
}

// PaginationType names how an HTTP JSON source pages its records.
// +kubebuilder:validation:Enum=None;NextLink;Cursor
type PaginationType string

// HTTPJSONSource holds the settings of a REST API that returns JSON records.
// +kubebuilder:validation:XValidation:rule="!has(self.pagination) || self.pagination.type != 'NextLink' || has(self.pagination.nextLinkPath)",message="pagination.nextLinkPath is required when pagination.type is NextLink"
// +kubebuilder:validation:XValidation:rule="!has(self.pagination) || self.pagination.type != 'Cursor' || (has(self.pagination.cursorPath) && has(self.pagination.cursorParam))",message="pagination.cursorPath and pagination.cursorParam are required when pagination.type is Cursor"
type HTTPJSONSource struct {
	// url to GET. Redirects to other hosts are refused. The path and query
	// values may name the window each evaluation reads, so the API returns
	// only those records: {{ .From }} and {{ .To }} render its start and
	// end as RFC 3339 UTC, {{ .From.Unix }} and {{ .To.Unix }} as Unix
	// seconds, such as
	// https://surveys.example.com/v1/responses?since={{ .From }}&until={{ .To }}.
	// Records are still filtered to the window after they arrive, so an API
	// that rounds the bounds gives exact results. No other placeholder is
	// allowed, nor one in the scheme, host or port.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	// +kubebuilder:validation:XValidation:rule="!self.replace('{{ .From.Unix }}', '').replace('{{ .To.Unix }}', '').replace('{{ .From }}', '').replace('{{ .To }}', '').contains('{{') && !self.replace('{{ .From.Unix }}', '').replace('{{ .To.Unix }}', '').replace('{{ .From }}', '').replace('{{ .To }}', '').contains('}}')",message="url may use only the placeholders {{ .From }}, {{ .To }}, {{ .From.Unix }} and {{ .To.Unix }}, spelled exactly so"
	// +kubebuilder:validation:XValidation:rule="!self.contains('{{') || self.matches('^https?://[^/?#{}]*([/?#]|$)')",message="url placeholders may appear only in the path and query, not in the scheme, host or port"
	URL string `json:"url"`
	// recordsPath is the dot path of the array of records in each response,
	// such as "data.responses"; empty when the body itself is the array.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	RecordsPath string `json:"recordsPath,omitempty"`
	// headers sent with every request, taken from keys of the DataSource's
	// Secret: header name to Secret key.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	HeadersFromSecret map[string]string `json:"headersFromSecret,omitempty"`
	// pagination says how to fetch further pages.
	// +optional
	Pagination *HTTPPagination `json:"pagination,omitempty"`
	// maxResponseBytes caps the size of one response body, from 1024 bytes
	// to 268435456 (256 MiB); 64 MiB by default. Records are aggregated as
	// they stream in, so the cap bounds the operator's work per page, not
	// its memory: page a larger export with pagination instead.
	// +kubebuilder:default=67108864
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=268435456
	// +optional
	MaxResponseBytes int64 `json:"maxResponseBytes,omitempty"`
	// maxPages caps how many pages one query reads.
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxPages int32 `json:"maxPages,omitempty"`
}

// HTTPPagination says how an HTTP JSON source pages its records.
type HTTPPagination struct {
	// type is None (one page), NextLink (each page names the URL of the next)
	// or Cursor (each page names an opaque cursor sent back as a parameter).
	// +kubebuilder:default=None
	Type PaginationType `json:"type"`
	// nextLinkPath is the dot path of the next page's URL in a response.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	NextLinkPath string `json:"nextLinkPath,omitempty"`
	// cursorPath is the dot path of the next cursor in a response.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	CursorPath string `json:"cursorPath,omitempty"`
	// cursorParam is the query parameter that carries the cursor.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	CursorParam string `json:"cursorParam,omitempty"`
}

// CSVSource holds the settings of a CSV export.
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.configMapRef)",message="set exactly one of path and configMapRef"
type CSVSource struct {
	// path of the file, relative to one of the data roots the manager was
	// started with (--data-root), such as "exports/shipments.csv"; an
	// absolute path or one with a ".." segment is refused.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && self != '..' && !self.startsWith('../') && !self.endsWith('/..') && !self.contains('/../')",message="path must be relative to the manager's --data-root, without a leading / or .. segments, such as exports/shipments.csv"
	// +optional
	Path string `json:"path,omitempty"`
	// configMapRef reads the file from a key of a ConfigMap in the same
	// namespace instead.
	// +optional
	ConfigMapRef *ConfigMapKeyReference `json:"configMapRef,omitempty"`
	// delimiter separating fields; a comma unless set.
	// +kubebuilder:default=","
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1
	// +optional
	Delimiter string `json:"delimiter,omitempty"`
}

// ConfigMapKeyReference selects one key of a ConfigMap in the same namespace.
type ConfigMapKeyReference struct {
	// name of the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key within the ConfigMap's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// DataSourceStatus is what the operator last observed of a DataSource.
type DataSourceStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready is True when the connectivity check passed; its
	// reason (SecretNotFound, AuthFailed, Unreachable, PathNotAllowed,
	// AddressNotAllowed, BadSettings, BadQuery, Timeout) says what to fix
	// otherwise.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// consecutiveFailures counts connectivity checks that failed in a row.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cxds;cxsource,categories=cxloop
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DataSource is a place where customer-experience data lives: a warehouse,
// a time-series store, a REST API or an export file. Metrics read from it.
type DataSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where the data lives and how to reach it.
	Spec DataSourceSpec `json:"spec"`
	// status is the operator's last observation.
	// +optional
	Status DataSourceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DataSourceList is a list of DataSources.
type DataSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataSource `json:"items"`
}

func init() {
	register(&DataSource{}, &DataSourceList{})
}
