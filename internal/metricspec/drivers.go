package metricspec

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/drivers"
	"github.com/cxloop/cxloop/internal/source"
)

// DefaultDriverMaxLag is the longest lead compared without spec.drivers.maxLag.
const DefaultDriverMaxLag = 4

// DriverMaxLag is a driver analysis's longest lead, in intervals.
func DriverMaxLag(d *cxv1.DriverAnalysis) int {
	if d != nil && d.MaxLag != nil {
		return int(*d.MaxLag)
	}
	return DefaultDriverMaxLag
}

// DriversStatusOf renders ranked associations.
func DriversStatusOf(as []drivers.Association, windowEnd time.Time) *cxv1.DriversStatus {
	st := &cxv1.DriversStatus{WindowEnd: metav1.NewTime(windowEnd)}
	for _, a := range as {
		da := cxv1.DriverAssociation{Metric: a.Name, Segments: int32(a.Segments), Supported: a.Supported}
		if a.Segments >= drivers.MinSegments {
			da.Spearman, da.SpearmanLower, da.SpearmanUpper = finite(a.Spearman), finite(a.SpearmanLower), finite(a.SpearmanUpper)
			da.Pearson, da.PearsonLower, da.PearsonUpper = finite(a.Pearson), finite(a.PearsonLower), finite(a.PearsonUpper)
		}
		if a.LagIntervals > 0 {
			da.Lag, da.LagCorrelation, da.LagIntervals = int32(a.Lag), finite(a.LagCorrelation), int32(a.LagIntervals)
		}
		st.Associations = append(st.Associations, da)
	}
	return st
}

// TaskDrivers are the drivers a task of segment values carries: the
// strongest supported associations, each with its value for the task's
// key when the segment names one (keyColumn), else the driver's
// population value over the window the analysis read (overall), judged
// against the driver's own objective.
func TaskDrivers(st *cxv1.DriversStatus, values map[string]string, keyColumn string, perKey map[string]map[string]float64,
	overall map[string]float64, driverMetrics map[string]*cxv1.Metric) []cxv1.TaskDriver {
	if st == nil {
		return nil
	}
	key, byKey := values[keyColumn]
	var out []cxv1.TaskDriver
	for _, a := range st.Associations {
		if len(out) == cxv1.MaxTaskDrivers {
			break
		}
		if !a.Supported || a.Spearman == nil {
			continue
		}
		td := cxv1.TaskDriver{Metric: a.Metric, Spearman: *a.Spearman, Segments: a.Segments}
		dm := driverMetrics[a.Metric]
		if dm != nil {
			td.Target, td.Direction = dm.Spec.Objective.Target, dm.Spec.Objective.Direction
		}
		switch {
		case byKey:
			td.Segment = source.SegmentKey(map[string]string{keyColumn: key})
			if v, ok := perKey[a.Metric][key]; ok {
				td.Value = &v
			}
		default:
			if v, ok := overall[a.Metric]; ok {
				td.Value = &v
			}
		}
		if td.Value != nil && td.Target != nil {
			if td.Direction == cxv1.AtMost {
				td.MissesTarget = *td.Value > *td.Target
			} else {
				td.MissesTarget = *td.Value < *td.Target
			}
		}
		out = append(out, td)
	}
	return out
}
