package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ChannelType names an owner's tool that receives tasks.
// +kubebuilder:validation:Enum=webhook;slack;github;jira
type ChannelType string

// The supported delivery channels.
const (
	ChannelWebhook ChannelType = "webhook"
	ChannelSlack   ChannelType = "slack"
	ChannelGitHub  ChannelType = "github"
	ChannelJira    ChannelType = "jira"
)

// TeamSpec describes a team that owns metrics and receives their tasks.
type TeamSpec struct {
	// displayName is the team's name as people know it.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// contacts are the people to ask about the team's tasks.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Contacts []Contact `json:"contacts,omitempty"`

	// channels deliver the team's tasks to the tools it already uses.
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	// +optional
	Channels []DeliveryChannel `json:"channels,omitempty"`

	// escalationTeam is the Team, in this namespace, that receives this
	// team's escalated tasks unless a Metric names another.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	EscalationTeam string `json:"escalationTeam,omitempty"`

	// capacity caps the work the operator hands the team at once.
	// +optional
	Capacity *TeamCapacity `json:"capacity,omitempty"`
}

// Contact is a person to ask about a team's tasks.
type Contact struct {
	// name of the person.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// email address.
	// +kubebuilder:validation:MaxLength=254
	// +optional
	Email string `json:"email,omitempty"`
	// chat handle, such as @jane.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Chat string `json:"chat,omitempty"`
}

// TeamCapacity caps a team's open tasks.
type TeamCapacity struct {
	// maxOpenTasks is how many tasks may be open for the team at once
	// across all its metrics; further episodes are held back and listed on
	// their Metric.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxOpenTasks int32 `json:"maxOpenTasks"`
}

// DeliveryChannel delivers tasks to one of the team's tools. Exactly one
// settings block, the one named by type, must be set.
// +kubebuilder:validation:XValidation:rule="has(self.webhook) == (self.type == 'webhook')",message="webhook settings must be set when, and only when, type is webhook"
// +kubebuilder:validation:XValidation:rule="has(self.slack) == (self.type == 'slack')",message="slack settings must be set when, and only when, type is slack"
// +kubebuilder:validation:XValidation:rule="has(self.github) == (self.type == 'github')",message="github settings must be set when, and only when, type is github"
// +kubebuilder:validation:XValidation:rule="has(self.jira) == (self.type == 'jira')",message="jira settings must be set when, and only when, type is jira"
type DeliveryChannel struct {
	// name of the channel, unique within the team.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// type of the channel.
	Type ChannelType `json:"type"`
	// webhook posts a JSON body signed with HMAC-SHA256.
	// +optional
	Webhook *WebhookChannel `json:"webhook,omitempty"`
	// slack posts to a Slack incoming webhook.
	// +optional
	Slack *SlackChannel `json:"slack,omitempty"`
	// github files, comments on and closes GitHub issues.
	// +optional
	GitHub *GitHubChannel `json:"github,omitempty"`
	// jira creates, comments on and transitions Jira issues.
	// +optional
	Jira *JiraChannel `json:"jira,omitempty"`
}

// WebhookChannel posts each task event as JSON to a URL.
type WebhookChannel struct {
	// url receiving a POST per task event.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// signingKey selects the Secret key whose value signs each body; the
	// signature is sent as X-Cxloop-Signature: sha256=<hex HMAC>.
	// +optional
	SigningKey *SecretKeyReference `json:"signingKey,omitempty"`
}

// SlackChannel posts to a Slack incoming webhook.
type SlackChannel struct {
	// webhookURL selects the Secret key holding the incoming webhook's URL,
	// which is itself a credential.
	WebhookURL SecretKeyReference `json:"webhookURL"`
}

// GitHubChannel files GitHub issues.
type GitHubChannel struct {
	// repository as owner/name.
	// +kubebuilder:validation:MaxLength=140
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][-A-Za-z0-9]*/[A-Za-z0-9._-]+$`
	Repository string `json:"repository"`
	// apiURL of the GitHub API; https://api.github.com unless set (GitHub
	// Enterprise Server uses https://HOST/api/v3).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	// +optional
	APIURL string `json:"apiURL,omitempty"`
	// labels added to every issue.
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=50
	// +optional
	Labels []string `json:"labels,omitempty"`
	// token selects the Secret key holding a token allowed to write issues.
	Token SecretKeyReference `json:"token"`
}

// JiraChannel files Jira issues.
type JiraChannel struct {
	// url of the Jira site, such as https://example.atlassian.net.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// project key, such as CX.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Z0-9_]*$`
	Project string `json:"project"`
	// issueType of created issues.
	// +kubebuilder:default=Task
	// +kubebuilder:validation:MaxLength=64
	// +optional
	IssueType string `json:"issueType,omitempty"`
	// doneTransition is the name of the transition applied on verification.
	// +kubebuilder:default=Done
	// +kubebuilder:validation:MaxLength=64
	// +optional
	DoneTransition string `json:"doneTransition,omitempty"`
	// user selects the Secret key holding the account's email.
	User SecretKeyReference `json:"user"`
	// token selects the Secret key holding the account's API token.
	Token SecretKeyReference `json:"token"`
}

// TeamStatus summarises a team's tasks.
type TeamStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready is True when the team's channels are usable.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// openTasks counts tasks Open, InProgress or Reopened.
	// +optional
	OpenTasks int32 `json:"openTasks,omitempty"`
	// verifyingTasks counts tasks waiting for fresh data.
	// +optional
	VerifyingTasks int32 `json:"verifyingTasks,omitempty"`
	// verifiedTasks counts tasks whose fix was proven by data.
	// +optional
	VerifiedTasks int32 `json:"verifiedTasks,omitempty"`
	// dismissedTasks counts tasks the team dismissed as false alarms: the
	// false-task rate as the owners measure it.
	// +optional
	DismissedTasks int32 `json:"dismissedTasks,omitempty"`
	// escalatedTasks counts open tasks that were escalated.
	// +optional
	EscalatedTasks int32 `json:"escalatedTasks,omitempty"`
	// firstAttemptVerificationRate is the share of verified tasks proven on
	// their first resolution.
	// +optional
	FirstAttemptVerificationRate *float64 `json:"firstAttemptVerificationRate,omitempty"`
	// medianTimeToVerify is the median time from opening to verification.
	// +optional
	MedianTimeToVerify string `json:"medianTimeToVerify,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cxteam,categories=cxloop
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Open",type=integer,JSONPath=`.status.openTasks`
// +kubebuilder:printcolumn:name="Verifying",type=integer,JSONPath=`.status.verifyingTasks`
// +kubebuilder:printcolumn:name="Verified",type=integer,JSONPath=`.status.verifiedTasks`
// +kubebuilder:printcolumn:name="Escalated",type=integer,JSONPath=`.status.escalatedTasks`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Team owns metrics and receives the improvement tasks they open, in the
// tools it already uses.
type Team struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the team.
	Spec TeamSpec `json:"spec"`
	// status summarises the team's tasks.
	// +optional
	Status TeamStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TeamList is a list of Teams.
type TeamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Team `json:"items"`
}

func init() {
	register(&Team{}, &TeamList{})
}
