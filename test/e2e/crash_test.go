package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
)

// killEvery is how many writes each successive manager of the crash run
// makes before it is killed, cycled; a manager is also killed right after
// the first write of each kind, so every kind of write is followed by a
// kill at least once.
var killEvery = []int{1, 3, 2, 5, 1, 4, 7, 2, 6}

// The closed loop survives its manager being killed between any two of its
// writes, including mid-reconcile right after a write, and a tracker that
// acts on a request but loses the answer. The scenario runs once without
// kills as the reference; the crash run must reach the reference's state
// after every step, with exactly one task per episode and one issue per
// task, each transition commented once.
func TestManagerKilledBetweenAnyTwoWritesLosesNothing(t *testing.T) {
	began := time.Now()
	gh := newFakeGitHub(githubToken)
	server := httptest.NewServer(gh)
	defer server.Close()

	ref := newPlay(t, "reference", gh, server, nil)
	ref.fleet.start(t)
	days := maxDays
	for d := 0; d <= maxDays; d++ {
		if ref.day(t, d) {
			days = d
			break
		}
	}
	ref.fleet.stop()
	story := ref.steps[len(ref.steps)-1]
	for _, task := range story.Tasks {
		t.Logf("reference: %s %q ends %s at attempt %d (escalated %v), verification %+v, delivered %v",
			task.Metric, task.Segment, task.Phase, task.Attempt, task.Escalated, task.Verification, task.Delivered)
	}
	checkStory(t, story)
	t.Logf("reference: %d days, %d steps, writes by kind %v (%s)", days+1, len(ref.steps), ref.fleet.seen, time.Since(began).Round(time.Millisecond))

	crash := newPlay(t, "crash", gh, server, killEvery)
	crash.reference = ref
	gh.dropAfterActing(createIssue, 1)
	gh.dropAfterActing(createComment, 1)
	gh.dropAfterActing(updateIssue, 1)
	crash.fleet.start(t)
	for d := 0; d <= days; d++ {
		crash.day(t, d)
	}
	crash.fleet.stop()
	killer := crash.fleet

	// A manager started on the final state, with no kills, changes nothing.
	last := ref.steps[len(ref.steps)-1]
	crash.fleet = newFleet(crash.ns, crash.clock, nil)
	crash.fleet.start(t)
	crash.settle(t, last.Step, &last)
	crash.fleet.stop()
	if writes := sum(crash.fleet.seen); writes != 0 {
		t.Errorf("a manager started on the settled state wrote %d times: %v", writes, crash.fleet.seen)
	}

	var missing []string
	for kind := range ref.fleet.seen {
		if !killedAfterAll(killer.killedAfter, kind) {
			missing = append(missing, kind)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("write kinds never followed by a kill: %v", missing)
	}
	gh.mu.Lock()
	dropped, violations := fmt.Sprint(gh.dropped), gh.violations
	for _, kind := range []string{createIssue, createComment, updateIssue} {
		if gh.dropped[kind] != 1 {
			t.Errorf("%s: %d answers dropped, want 1", kind, gh.dropped[kind])
		}
	}
	gh.mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("requests GitHub would refuse: %v", violations)
	}
	t.Logf("crash run: %d managers, %d writes, %d kills right after a write; kills by kind %v; answers dropped %v; whole test %s",
		killer.incarnations, sum(killer.seen), len(killer.kills), killer.killedAfter, dropped, time.Since(began).Round(time.Millisecond))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkStory asserts what the seeded data tells: support CSAT's task is
// verified on its first attempt, its improvement over the level before
// the episode (which the fix restored) an interval around zero, and the
// effort task is reopened until it escalates.
func checkStory(t *testing.T, s snapshot) {
	t.Helper()
	byMetric := map[string]taskView{}
	for _, task := range s.Tasks {
		if _, dup := byMetric[task.Metric]; dup {
			t.Fatalf("two tasks for %s", task.Metric)
		}
		byMetric[task.Metric] = task
	}
	csat, ces := byMetric[csatName], byMetric[cesName]
	if v := csat.Verification; csat.Phase != cxv1.PhaseVerified || csat.Attempt != 1 || v == nil || !(v.Lower < 0 && v.Upper > 0) {
		t.Errorf("support CSAT's task: %+v", csat)
	}
	if ces.Segment != "stage=integration" || !ces.Escalated || ces.Phase != cxv1.PhaseReopened || ces.Attempt != 3 || ces.EscalatedTo != "cx-leadership" {
		t.Errorf("integration effort's task: %+v", ces)
	}
}

// checkInvariants asserts what must hold whenever the managers have
// settled, after every restart: exactly one task per episode; exactly one
// issue per task in each repository it was delivered to, found by its
// marker; each delivered transition commented exactly once (the channel
// looks for a comment's marker before posting, and managers never run at
// once, so at-least-once delivery leaves no duplicate); an issue closed
// exactly when its last delivered event closes the task; no comment or
// issue for anything not delivered.
func (p *play) checkInvariants(t *testing.T, step string) {
	t.Helper()
	ctx := context.Background()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s, %s: %s", p.name, step, fmt.Sprintf(format, args...))
	}
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	episodes := map[string]string{}
	for _, task := range tasks.Items {
		// One measurement per evaluation window: a reconcile within a
		// window replaces it instead of adding a copy.
		for i := 1; i < len(task.Status.Measurements); i++ {
			if !task.Status.Measurements[i-1].Time.Before(&task.Status.Measurements[i].Time) {
				fail("task %s measured window %s twice", task.Name, task.Status.Measurements[i].Time.UTC().Format(time.RFC3339))
			}
		}
		k := task.Spec.Metric + "/" + task.Spec.Segment + "@" + task.Spec.EpisodeStart.UTC().Format(time.RFC3339)
		if other, dup := episodes[k]; dup {
			fail("tasks %s and %s for episode %s", other, task.Name, k)
		}
		episodes[k] = task.Name
	}
	var metrics cxv1.MetricList
	if err := k8sClient.List(ctx, &metrics, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	for _, m := range metrics.Items {
		if m.Status.Detector == nil {
			continue
		}
		for _, s := range m.Status.Detector.Segments {
			if s.EpisodeStart == nil {
				continue
			}
			if k := m.Name + "/" + s.Segment + "@" + s.EpisodeStart.UTC().Format(time.RFC3339); episodes[k] == "" {
				fail("episode %s has no task", k)
			}
		}
	}
	repos := map[string][]fakeIssue{p.repo: p.gh.snapshot(p.repo), p.repo + "-leadership": p.gh.snapshot(p.repo + "-leadership")}
	claimed := map[string]bool{} // repo#issue
	for _, task := range tasks.Items {
		mark := fmt.Sprintf("cxloop-task: %s/%s uid=%s", task.Namespace, task.Name, task.UID)
		delivered := map[string][]string{} // repo -> events delivered there, in order
		for _, d := range latestDeliveries(&task) {
			if !d.Succeeded {
				continue
			}
			repo := p.repo
			if strings.HasPrefix(d.Channel, "cx-leadership/") {
				repo += "-leadership"
			}
			delivered[repo] = append(delivered[repo], fmt.Sprintf("%s attempt=%d", d.Event, d.Attempt))
		}
		for repo, issues := range repos {
			var found []fakeIssue
			for _, is := range issues {
				if strings.Contains(is.Body, mark) {
					found = append(found, is)
					claimed[fmt.Sprintf("%s#%d", repo, is.Number)] = true
				}
			}
			evs := delivered[repo]
			if len(evs) == 0 {
				if len(found) > 0 {
					// An issue may be filed before a kill stops its outcome
					// being recorded; the retry finds it by its marker.
					if !p.deliveryPending(&task) {
						fail("task %s has %d issue(s) in %s but no delivery there", task.Name, len(found), repo)
					}
				}
				continue
			}
			if len(found) != 1 {
				fail("task %s has %d issues in %s, want 1", task.Name, len(found), repo)
			}
			is := found[0]
			var comments []string
			seen := map[string]bool{}
			for _, c := range is.Comments {
				m := eventMarker.FindStringSubmatch(c)
				if m == nil {
					fail("issue %s#%d has a comment without an event marker", repo, is.Number)
				}
				ev := m[1] + " attempt=" + m[2]
				if seen[ev] {
					fail("issue %s#%d has event %s commented twice", repo, is.Number, ev)
				}
				seen[ev] = true
				comments = append(comments, ev)
			}
			var want []string
			for _, ev := range evs {
				if !strings.HasPrefix(ev, string(loop.EventOpened)+" ") || repo != p.repo {
					want = append(want, ev)
				}
			}
			if strings.Join(comments, ", ") != strings.Join(want, ", ") {
				fail("issue %s#%d comments %v, want the delivered events %v", repo, is.Number, comments, want)
			}
			lastEv, _, _ := strings.Cut(evs[len(evs)-1], " ")
			closes := lastEv == string(loop.EventVerified) || lastEv == string(loop.EventRecovered) ||
				lastEv == string(loop.EventDismissed) || lastEv == string(loop.EventCancelled)
			if closes != (is.State == "closed") {
				fail("issue %s#%d is %s after %s", repo, is.Number, is.State, lastEv)
			}
			if closes && lastEv == string(loop.EventVerified) && is.StateReason != "completed" {
				fail("issue %s#%d closed as %q", repo, is.Number, is.StateReason)
			}
		}
	}
	for repo, issues := range repos {
		for _, is := range issues {
			if !claimed[fmt.Sprintf("%s#%d", repo, is.Number)] {
				fail("issue %s#%d belongs to no task", repo, is.Number)
			}
		}
	}
}

// deliveryPending reports whether any of the task's deliveries is still
// to be made or retried.
func (p *play) deliveryPending(task *cxv1.ImprovementTask) bool {
	for _, d := range latestDeliveries(task) {
		if !d.Succeeded && d.Retryable {
			return true
		}
	}
	return false
}

// killedAfterAll reports whether the crash run killed a manager right
// after a write of kind, or after a task status write that wrote all of
// kind's fields and more: whether a task's episodeEndedAt goes out alone
// or with its measurements depends on when its wake falls, and either
// way the kill lands right after episodeEndedAt is persisted.
func killedAfterAll(killedAfter map[string]int, kind string) bool {
	if killedAfter[kind] > 0 {
		return true
	}
	const prefix = "task status: "
	fields, ok := strings.CutPrefix(kind, prefix)
	if !ok {
		return false
	}
	for k, n := range killedAfter {
		wrote, ok := strings.CutPrefix(k, prefix)
		if !ok || n == 0 {
			continue
		}
		all := true
		for _, f := range strings.Split(fields, ",") {
			all = all && slices.Contains(strings.Split(wrote, ","), f)
		}
		if all {
			return true
		}
	}
	return false
}
