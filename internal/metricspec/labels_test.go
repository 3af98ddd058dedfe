package metricspec

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
)

func TestLabelValueIsAlwaysValidAndDistinct(t *testing.T) {
	long := strings.Repeat("a", 250) + "-x"
	for _, c := range []struct {
		name, in string
		same     bool // the value is a label value as it stands
	}{
		{"ordinary name", "support-csat", true},
		{"63 characters", strings.Repeat("m", 63), true},
		{"empty", "", true},
		{"64 characters", strings.Repeat("m", 64), false},
		{"253-character name", long, false},
		{"cut would end on a dash", strings.Repeat("a", 51) + "-" + strings.Repeat("b", 20), false},
		{"invalid UTF-8", "segment\xff\xfe", false},
		{"characters outside the label set", "plan=enterprise/eu", false},
		{"nothing alphanumeric", "---", false},
		{"starts with a dot", ".hidden", false},
	} {
		got := LabelValue(c.in)
		if errs := validation.IsValidLabelValue(got); len(errs) != 0 {
			t.Errorf("%s: LabelValue(%q) = %q is no label value: %v", c.name, c.in, got, errs)
		}
		if (got == c.in) != c.same {
			t.Errorf("%s: LabelValue(%q) = %q, want it unchanged: %v", c.name, c.in, got, c.same)
		}
		m := MetricsLabelValue(c.in)
		if !utf8.ValidString(m) || len(m) > 63 {
			t.Errorf("%s: MetricsLabelValue(%q) = %q: invalid UTF-8 or over 63 bytes", c.name, c.in, m)
		}
	}
	// Long values that share their first 63 characters stay distinct.
	a, b := LabelValue(long), LabelValue(strings.Repeat("a", 250)+"-y")
	if a == b {
		t.Fatalf("two long names share the label value %q", a)
	}
	// A name that is valid but for its length is shortened alike for
	// Kubernetes and for Prometheus.
	if LabelValue(long) != MetricsLabelValue(long) {
		t.Fatalf("LabelValue %q, MetricsLabelValue %q", LabelValue(long), MetricsLabelValue(long))
	}
	// Prometheus keeps the characters Kubernetes refuses.
	if got := MetricsLabelValue("plan=enterprise/eu"); got != "plan=enterprise/eu" {
		t.Fatalf("MetricsLabelValue changed a valid segment to %q", got)
	}
}

// A Metric may be named with up to 253 characters, a label value only 63:
// the task still gets labels the API server accepts.
func TestTaskObjectLabelsFitLongNames(t *testing.T) {
	name := strings.Repeat("checkout-conversion-", 12) + "eu-west"
	if len(name) < 240 {
		t.Fatalf("name of %d characters", len(name))
	}
	team := strings.Repeat("t", 100)
	m := engine.Metric{Namespace: "cx", Name: name, UID: "uid-1", Team: team}
	task := TaskObject(m, engine.NewTask{Name: loop.TaskName(name, "uid-1", "", time.Time{})})
	for k, v := range task.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) != 0 {
			t.Errorf("label %s=%q: %v", k, v, errs)
		}
	}
	if got := task.Labels[LabelMetric]; got != LabelValue(name) || !strings.HasPrefix(got, "checkout-conversion-") {
		t.Fatalf("metric label %q", got)
	}
	// The task reconciler drops a team label that cannot name the team.
	if v, ok := task.Labels[LabelTeam]; ok {
		t.Fatalf("team label %q for a team name of %d characters", v, len(team))
	}
	if task.Spec.Metric != name || task.Spec.Team != team {
		t.Fatalf("the spec must keep the full names: %q, %q", task.Spec.Metric, task.Spec.Team)
	}
	short := TaskObject(engine.Metric{Namespace: "cx", Name: "support-csat", Team: "support"}, engine.NewTask{Name: "support-csat-1"})
	if short.Labels[LabelMetric] != "support-csat" || short.Labels[LabelTeam] != "support" {
		t.Fatalf("labels of ordinary names changed: %v", short.Labels)
	}
}
