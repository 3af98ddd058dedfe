package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/interpreter"
)

// Bounds on what one derived expression may cost. CEL always terminates,
// but comprehensions nest: six .map calls over a ten-element list already
// take 10^6 steps, and each further level multiplies by ten. An arithmetic
// expression of the longest length the API admits costs a few hundred, so
// the budget leaves ample room for real formulas and none for such bombs.
const (
	// MaxExpressionCost bounds both the cost the type checker estimates
	// (its worst case) and the cost evaluation actually spends, in CEL's
	// cost units (about one per operation).
	MaxExpressionCost = 10_000
	// expressionTimeout bounds one evaluation's wall time; evaluation
	// checks it every interruptEvery comprehension iterations.
	expressionTimeout = 100 * time.Millisecond
	interruptEvery    = 100
)

// ErrExpressionTooCostly: an expression's estimated or actual cost exceeds
// MaxExpressionCost, or its evaluation outran its deadline. It is wrapped by
// an ExpressionError (at compile time) or an evaluation error; test with
// errors.Is.
var ErrExpressionTooCostly = errors.New("expression too costly")

// ExpressionError is a derived expression that does not compile, names an
// input twice or badly, or does not yield a number. Message is CEL's own
// report (with line, column and a caret under the fault) plus a hint where
// one helps.
type ExpressionError struct {
	// Expression is the source text.
	Expression string
	// Message says what is wrong.
	Message string
	// Err is the class of fault callers branch on, such as
	// ErrExpressionTooCostly; nil for an expression that is simply wrong.
	Err error
}

// Error implements error.
func (e *ExpressionError) Error() string {
	return fmt.Sprintf("derived expression %q: %s", e.Expression, e.Message)
}

// Unwrap returns the class of fault, if any.
func (e *ExpressionError) Unwrap() error { return e.Err }

// inputName is a CEL identifier that is not a reserved word's shape.
var inputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// DerivedExpression is a compiled derived metric: a CEL expression over
// named inputs, each a double, such as
// "avg_purchase_value * purchase_frequency * lifespan" (CLV). CEL is total
// and side-effect free, so evaluating an expression cannot loop or reach
// outside its inputs; its cost is bounded by MaxExpressionCost, checked on
// compile and enforced on every evaluation.
type DerivedExpression struct {
	expression string
	inputs     []string
	program    cel.Program
}

// CompileDerived compiles expression over the named inputs. The result must
// be a double: CEL does not mix int and double, so constants are written
// with a decimal point (12.0, not 12), and the error says so. An expression
// whose worst-case cost the type checker estimates above MaxExpressionCost
// is refused with an ExpressionError wrapping ErrExpressionTooCostly,
// before anything runs.
func CompileDerived(expression string, inputs []string) (*DerivedExpression, error) {
	return compileDerived(expression, inputs, MaxExpressionCost)
}

// compileDerived is CompileDerived with the estimated cost's limit given, so
// a test can show evaluation's own limit stopping what the estimate let by.
func compileDerived(expression string, inputs []string, maxEstimate uint64) (*DerivedExpression, error) {
	if strings.TrimSpace(expression) == "" {
		return nil, &ExpressionError{Expression: expression, Message: "empty expression"}
	}
	names := append([]string(nil), inputs...)
	sort.Strings(names)
	opts := make([]cel.EnvOption, 0, len(names))
	for i, n := range names {
		if !inputName.MatchString(n) {
			return nil, &ExpressionError{Expression: expression, Message: fmt.Sprintf("input name %q is not an identifier (letters, digits, underscore)", n)}
		}
		if i > 0 && names[i-1] == n {
			return nil, &ExpressionError{Expression: expression, Message: fmt.Sprintf("input %q is named twice", n)}
		}
		opts = append(opts, cel.Variable(n, cel.DoubleType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, &ExpressionError{Expression: expression, Message: err.Error()}
	}
	ast, iss := env.Compile(expression)
	if iss != nil && iss.Err() != nil {
		msg := iss.Err().Error()
		if strings.Contains(msg, "no matching overload") {
			msg += "\n(hint: inputs are doubles; write constants as 12.0, not 12)"
		}
		if strings.Contains(msg, "undeclared reference") {
			msg += fmt.Sprintf("\n(declared inputs: %s)", strings.Join(names, ", "))
		}
		return nil, &ExpressionError{Expression: expression, Message: msg}
	}
	// Checked before the result type, so a costly expression is named as
	// such whatever it yields.
	cost, err := env.EstimateCost(ast, noSizes{})
	if err != nil {
		return nil, &ExpressionError{Expression: expression, Message: "estimate its cost: " + err.Error(), Err: ErrExpressionTooCostly}
	}
	if cost.Max > maxEstimate {
		return nil, &ExpressionError{Expression: expression, Err: ErrExpressionTooCostly,
			Message: fmt.Sprintf("%v: its estimated cost (up to %d) exceeds the limit of %d; nested comprehensions (.map, .filter, .all, .exists) multiply cost, and a derived metric rarely needs any",
				ErrExpressionTooCostly, cost.Max, maxEstimate)}
	}
	if !ast.OutputType().IsExactType(cel.DoubleType) {
		return nil, &ExpressionError{Expression: expression, Message: fmt.Sprintf("yields %s, want double", ast.OutputType())}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(MaxExpressionCost), cel.InterruptCheckFrequency(interruptEvery))
	if err != nil {
		return nil, &ExpressionError{Expression: expression, Message: err.Error()}
	}
	return &DerivedExpression{expression: expression, inputs: names, program: prg}, nil
}

// noSizes leaves every size to the checker: inputs are doubles, so each
// list or string an expression handles is a literal of known size.
type noSizes struct{}

func (noSizes) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }

func (noSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// Inputs returns the input names, sorted.
func (x *DerivedExpression) Inputs() []string { return append([]string(nil), x.inputs...) }

// Eval evaluates the expression. Every input must be given; a result that is
// not finite (a division by zero) is an error, never a value.
func (x *DerivedExpression) Eval(values map[string]float64) (float64, error) {
	act := make(map[string]any, len(x.inputs))
	for _, n := range x.inputs {
		v, ok := values[n]
		if !ok {
			return 0, fmt.Errorf("derived expression %q: input %q missing", x.expression, n)
		}
		act[n] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), expressionTimeout)
	defer cancel()
	out, _, err := x.program.ContextEval(ctx, act)
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) {
		return 0, fmt.Errorf("derived expression %q: %w: %s (limit %d, %s)", x.expression, ErrExpressionTooCostly, cancelled.Message, MaxExpressionCost, expressionTimeout)
	}
	if err != nil {
		return 0, fmt.Errorf("derived expression %q: %w", x.expression, err)
	}
	f, ok := out.Value().(float64)
	if !ok {
		return 0, fmt.Errorf("derived expression %q: result %v is not a double", x.expression, out)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("derived expression %q: result %v is not finite (a division by zero?)", x.expression, f)
	}
	return f, nil
}

// Estimate evaluates the expression over its inputs' estimates. A derived
// value carries no interval (Lower = Upper = Value, method none): it has no
// units to sample. It is sufficient only when every input is; N and NEff are
// the smallest among the inputs. Its Hash covers the expression and every
// input's hash, so a changed input definition changes the derived one.
func (x *DerivedExpression) Estimate(inputs map[string]Estimate) (Estimate, error) {
	rules := make(map[string]string, len(x.inputs))
	values := make(map[string]float64, len(x.inputs))
	e := Estimate{Method: MethodNone, Sufficient: true, N: math.MaxInt64, NEff: math.Inf(1)}
	for _, n := range x.inputs {
		in, ok := inputs[n]
		if !ok {
			return Estimate{}, fmt.Errorf("derived expression %q: input %q missing", x.expression, n)
		}
		rules["input:"+n] = in.Hash
		values[n] = in.Value
		e.Sufficient = e.Sufficient && in.Sufficient
		e.N = min(e.N, in.N)
		e.NEff = math.Min(e.NEff, in.NEff)
		e.Confidence = in.Confidence
	}
	if len(x.inputs) == 0 {
		e.N, e.NEff = 0, 0
	}
	e.Hash = Definition{Formula: FormulaDerived, Expression: x.expression, Inputs: x.inputs, Rules: rules}.Hash()
	if !e.Sufficient {
		return e, nil
	}
	v, err := x.Eval(values)
	if err != nil {
		return Estimate{}, err
	}
	e.Value, e.Lower, e.Upper = v, v, v
	return e, nil
}
