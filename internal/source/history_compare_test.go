package source

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

func firstNonNil(rs []*Result) int {
	for i, r := range rs {
		if r != nil {
			return i
		}
	}
	return 0
}

// historyEqual reports where got and want differ, Statement aside: every
// count and key exactly, every float within 1e-12 of the larger magnitude
// or of 1 (sums merged in another order differ in the last bits), nil maps
// as empty.
func historyEqual(path string, got, want reflect.Value) error {
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return fmt.Errorf("%s: %v, want %v", path, got, want)
			}
			return nil
		}
		return historyEqual(path, got.Elem(), want.Elem())
	case reflect.Struct:
		for i := 0; i < got.NumField(); i++ {
			f := got.Type().Field(i)
			if f.Name == "Statement" || !f.IsExported() {
				continue
			}
			if err := historyEqual(path+"."+f.Name, got.Field(i), want.Field(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if got.Len() != want.Len() {
			return fmt.Errorf("%s: %d entries, want %d", path, got.Len(), want.Len())
		}
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				return fmt.Errorf("%s[%v]: missing", path, k)
			}
			if err := historyEqual(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if got.Len() != want.Len() {
			return fmt.Errorf("%s: %d elements, want %d", path, got.Len(), want.Len())
		}
		for i := range got.Len() {
			if err := historyEqual(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Float64:
		a, b := got.Float(), want.Float()
		if a != b && !(math.Abs(a-b) <= 1e-12*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))) {
			return fmt.Errorf("%s: %v, want %v", path, a, b)
		}
		return nil
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return fmt.Errorf("%s: %v, want %v", path, got, want)
		}
		return nil
	}
}

// statements counts the SQL statements a history's Statement shows: the
// statements it ran, one transaction's worth.
func statements(rs []*Result) int {
	for _, r := range rs {
		if r != nil {
			return strings.Count(r.Statement, ";\n") + 1
		}
	}
	return 0
}
