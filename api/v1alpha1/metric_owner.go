package v1alpha1

// MetricOwner names the team accountable for a metric.
type MetricOwner struct {
	// team is the name of a Team in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Team string `json:"team"`

	// segments hand the tasks of some segments to the teams that own
	// them, such as each journey stage to its own team: a task whose
	// segment has the column at the value goes to that team (the first
	// entry that matches), and every other task to team. Each column must
	// be one of segmentBy. A task already open moves when its segment's
	// owner changes, as it does when team changes.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Segments []SegmentOwner `json:"segments,omitempty"`
}

// SegmentOwner is the team that owns one segment's tasks.
type SegmentOwner struct {
	// column of segmentBy, such as stage.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Column string `json:"column"`
	// value of the column, such as integration.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Value string `json:"value"`
	// team is the name of the Team, in this namespace, that owns the
	// segment's tasks.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Team string `json:"team"`
}
