package metricspec

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// calibrationOf reads a persisted calibration; an unreadable duration
// reads as zero, which only makes the next calibration come sooner.
func calibrationOf(c *cxv1.DetectorCalibration) *engine.Calibration {
	if c == nil {
		return nil
	}
	corr, _ := time.ParseDuration(c.CorrelationTime)
	history, _ := time.ParseDuration(c.History)
	return &engine.Calibration{CalibratedAt: c.CalibratedAt.UTC(), Sigma: c.Sigma, Dispersion: c.Dispersion,
		DispersionError: c.DispersionError, VarianceInflation: c.VarianceInflation, CorrelationTime: corr, History: history, Calibrating: c.Calibrating,
		WindowValues: append([]float64(nil), c.WindowValues...)}
}

// calibrationStatus renders a calibration for status.
func calibrationStatus(c *engine.Calibration) *cxv1.DetectorCalibration {
	if c == nil {
		return nil
	}
	return &cxv1.DetectorCalibration{CalibratedAt: metav1.NewTime(c.CalibratedAt), Calibrating: c.Calibrating,
		History: c.History.String(), Sigma: c.Sigma, Dispersion: c.Dispersion, DispersionError: c.DispersionError, VarianceInflation: c.VarianceInflation,
		CorrelationTime: c.CorrelationTime.String(), WindowValues: append([]float64(nil), c.WindowValues...)}
}
