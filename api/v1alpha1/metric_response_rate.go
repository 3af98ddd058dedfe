package v1alpha1

// MaxLowResponseSegments bounds status.responseRate.lowest.
const MaxLowResponseSegments = 10

// SurveyInvitations says where a survey Metric's invitations are, so its
// response rate can be told: a score from 13 % of an account's
// stakeholders is not the account's experience.
type SurveyInvitations struct {
	// table holding the invitations sent, in the Metric's DataSource: one
	// row per invitation, or per batch with count. It must hold the
	// Metric's segmentBy columns for rates per segment.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`
	// +kubebuilder:validation:MaxLength=127
	Table string `json:"table"`
	// time is the column of when each invitation was sent.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	Time string `json:"time"`
	// count is the column of how many invitations a row stands for; each
	// row is one without it.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Count string `json:"count,omitempty"`
	// filters narrow the rows to this survey's invitations, such as
	// survey Equals nps.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Filters []QueryFilter `json:"filters,omitempty"`
	// minResponseRate is the share of invitations answered, in percent,
	// below which a segment's score is flagged as not representing it.
	// Default 20.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	MinResponseRate *float64 `json:"minResponseRate,omitempty"`
}

// ResponseRateStatus is the share of invitations answered over the
// Metric's latest window.
type ResponseRateStatus struct {
	// rate of the whole population, in percent.
	// +optional
	Rate *float64 `json:"rate,omitempty"`
	// responses counted, unweighted.
	Responses int64 `json:"responses"`
	// invitations sent.
	Invitations int64 `json:"invitations"`
	// minResponseRate is the threshold segments are flagged below.
	MinResponseRate float64 `json:"minResponseRate"`
	// lowSegments is how many segments answered below minResponseRate.
	// +optional
	LowSegments int32 `json:"lowSegments,omitempty"`
	// lowest lists the segments with the lowest rates, at most 10.
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Lowest []SegmentResponseRate `json:"lowest,omitempty"`
}

// SegmentResponseRate is one segment's share of invitations answered.
type SegmentResponseRate struct {
	// segment key.
	Segment string `json:"segment"`
	// rate in percent.
	Rate float64 `json:"rate"`
	// responses counted.
	Responses int64 `json:"responses"`
	// invitations sent.
	Invitations int64 `json:"invitations"`
	// low is true below minResponseRate.
	// +optional
	Low bool `json:"low,omitempty"`
}
