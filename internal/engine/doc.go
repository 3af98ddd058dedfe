// Package engine makes every decision of the closed loop for one Metric:
// Evaluate measures its window and feeds its change detector, Verify
// judges a task on fresh data, PlanTasks decides which episodes become
// tasks within the Metric's and the team's capacity, and Replay runs
// history through exactly those three. The operator's reconcilers and the
// kubectl plugin's plan and backtest all call it, so a live run and an
// offline one decide alike.
//
// Its inputs are plain types (Metric, Prior, Task) that internal/metricspec
// translates from the API objects once; its outputs are plain results the
// callers turn into status. It reads data only through source.Source. It
// must not import the API types, controller-runtime or client-go.
package engine
