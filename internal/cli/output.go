package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// outputFormat is the value of -o.
type outputFormat string

// The formats every listing command supports.
const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
	outputYAML  outputFormat = "yaml"
)

// addOutputFlag adds -o/--output to a listing command.
func addOutputFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVarP(target, "output", "o", string(outputTable), "output format: table, json or yaml")
}

// parseOutputFormat checks the value of -o.
func parseOutputFormat(s string) (outputFormat, error) {
	switch f := outputFormat(strings.ToLower(s)); f {
	case outputTable, outputJSON, outputYAML:
		return f, nil
	case "wide":
		return outputTable, nil
	}
	return "", usageErrorf("unknown output format %q: use table, json or yaml", s)
}

// printStructured writes v as indented JSON or as YAML.
func printStructured(w io.Writer, format outputFormat, v any) error {
	switch format {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case outputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("format %q is not structured", format)
}

// printTable writes a header and rows, aligned the way kubectl aligns them.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// noValue is what a table shows for a missing value, as kubectl does.
const noValue = "<none>"

// formatNumber prints a metric value compactly for a table: two decimals,
// three below 1 where rates and proportions live. JSON and YAML carry the
// exact value.
func formatNumber(v *float64) string {
	if v == nil {
		return noValue
	}
	scale := 100.0
	if math.Abs(*v) < 1 {
		scale = 1000
	}
	return strconv.FormatFloat(math.Round(*v*scale)/scale, 'f', -1, 64)
}
