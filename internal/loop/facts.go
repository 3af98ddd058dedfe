package loop

import (
	"fmt"
	"time"
)

// Facts are what a task's spec says about the episode that opened it.
type Facts struct {
	// Name is the task's object name.
	Name string
	// Metric is the name of the Metric the task names.
	Metric string
	// Segment is the task's segment key.
	Segment string
	// ValuesKey is the canonical segment key of the task's segment values,
	// the values verification queries.
	ValuesKey    string
	EpisodeStart time.Time
}

// Record is the Metric's own record of its episodes.
type Record struct {
	// MetricUID is the Metric's UID, part of every task name it opens.
	MetricUID string
	// Detector is what the Metric's detector state says of the task's
	// segment. It is consulted only when Comparable is true: the state
	// was computed under the definition that opened the task.
	Comparable bool
	// FedUntil is the end of the data the detector has been fed; zero
	// before the first evaluation.
	FedUntil time.Time
	// OpenSince is the start of the segment's open episode; zero when the
	// detector holds none open.
	OpenSince time.Time
}

// Dispute says why a task's facts disagree with its Metric's record.
type Dispute struct {
	Reason  string
	Message string
}

// Reasons of a dispute.
const (
	DisputeName          = "NameMismatch"
	DisputeSegmentValues = "SegmentValuesMismatch"
	DisputeEpisode       = "EpisodeNotRecorded"
)

// factCheck is one policy of the chain: it reports a dispute, or leaves
// the decision to the checks after it.
type factCheck func(Facts, Record) (Dispute, bool)

var factChecks = []factCheck{nameMatchesEpisode, valuesMatchSegment, episodeWithinFedData, noLaterEpisodeWhileOneIsOpen}

// CheckFacts compares a task's facts with its Metric's record and returns
// the first disagreement. A task's name is a hash of its Metric's UID, its
// segment key and its episode's start (TaskName), written once at
// creation, so facts edited afterwards no longer produce it; the segment
// values must render to the segment key, since verification queries the
// values; and the Metric's detector must have been able to open the
// episode.
func CheckFacts(f Facts, r Record) (Dispute, bool) {
	for _, check := range factChecks {
		if d, bad := check(f, r); bad {
			return d, true
		}
	}
	return Dispute{}, false
}

func nameMatchesEpisode(f Facts, r Record) (Dispute, bool) {
	want := TaskName(f.Metric, r.MetricUID, f.Segment, f.EpisodeStart)
	if f.Name == want {
		return Dispute{}, false
	}
	return Dispute{DisputeName, fmt.Sprintf("metric %s names the episode of segment %s since %s %s, not %s: "+
		"the task's metric, segment or episodeStart is not the episode it was opened for",
		f.Metric, segmentLabel(f.Segment), stamp(f.EpisodeStart), want, f.Name)}, true
}

func valuesMatchSegment(f Facts, _ Record) (Dispute, bool) {
	if f.ValuesKey == f.Segment {
		return Dispute{}, false
	}
	return Dispute{DisputeSegmentValues, fmt.Sprintf("segmentValues render to segment %s, but the task's segment is %s",
		segmentLabel(f.ValuesKey), segmentLabel(f.Segment))}, true
}

func episodeWithinFedData(f Facts, r Record) (Dispute, bool) {
	if !r.Comparable || r.FedUntil.IsZero() || !f.EpisodeStart.After(r.FedUntil) {
		return Dispute{}, false
	}
	return Dispute{DisputeEpisode, fmt.Sprintf("metric %s's detector has seen data up to %s only; no episode of it started at %s",
		f.Metric, stamp(r.FedUntil), stamp(f.EpisodeStart))}, true
}

// noLaterEpisodeWhileOneIsOpen: a segment has at most one episode open, so
// while the detector holds one open since S, no episode of that segment
// can have started after S.
func noLaterEpisodeWhileOneIsOpen(f Facts, r Record) (Dispute, bool) {
	if !r.Comparable || r.OpenSince.IsZero() || !f.EpisodeStart.After(r.OpenSince) {
		return Dispute{}, false
	}
	return Dispute{DisputeEpisode, fmt.Sprintf("metric %s's detector holds segment %s's episode open since %s; no later episode started at %s",
		f.Metric, segmentLabel(f.Segment), stamp(r.OpenSince), stamp(f.EpisodeStart))}, true
}

// ResolutionAhead reports, for the task's status and the owner's word, a
// resolution that claims an attempt the task has not reached. It is
// ignored (see currentResolution), and since admission never lets a
// resolution's attempt go back, it can never count.
func ResolutionAhead(s Status, o Owner) (string, bool) {
	if o.State != OwnerResolved || s.Attempt < 1 || o.ResolutionAttempt <= s.Attempt {
		return "", false
	}
	return fmt.Sprintf("resolution.attempt %d answers no attempt: the task is on attempt %d, and the resolution is ignored; "+
		"a resolution's attempt cannot be lowered, so this task can no longer be resolved: dismiss it if the work is done elsewhere",
		o.ResolutionAttempt, s.Attempt), true
}

func segmentLabel(key string) string {
	if key == "" {
		return "(all)"
	}
	return key
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
