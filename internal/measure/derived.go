package measure

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
)

// ExpressionError is a derived expression that does not compile, names an
// input twice or badly, or does not yield a number. Message is CEL's own
// report (with line, column and a caret under the fault) plus a hint where
// one helps.
type ExpressionError struct {
	// Expression is the source text.
	Expression string
	// Message says what is wrong.
	Message string
}

// Error implements error.
func (e *ExpressionError) Error() string {
	return fmt.Sprintf("derived expression %q: %s", e.Expression, e.Message)
}

// inputName is a CEL identifier that is not a reserved word's shape.
var inputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// DerivedExpression is a compiled derived metric: a CEL expression over
// named inputs, each a double, such as
// "avg_purchase_value * purchase_frequency * lifespan" (CLV). CEL is total
// and side-effect free, so evaluating an expression cannot loop or reach
// outside its inputs.
type DerivedExpression struct {
	expression string
	inputs     []string
	program    cel.Program
}

// CompileDerived compiles expression over the named inputs. The result must
// be a double: CEL does not mix int and double, so constants are written
// with a decimal point (12.0, not 12), and the error says so.
func CompileDerived(expression string, inputs []string) (*DerivedExpression, error) {
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
	if !ast.OutputType().IsExactType(cel.DoubleType) {
		return nil, &ExpressionError{Expression: expression, Message: fmt.Sprintf("yields %s, want double", ast.OutputType())}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &ExpressionError{Expression: expression, Message: err.Error()}
	}
	return &DerivedExpression{expression: expression, inputs: names, program: prg}, nil
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
	out, _, err := x.program.Eval(act)
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
