package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
)

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
	field               string
}

// Vars lists every environment variable the worker reads, in field order.
func Vars() []Var {
	return vars(reflect.TypeOf(Config{}), "")
}

func vars(t reflect.Type, prefix string) []Var {
	var out []Var
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			out = append(out, vars(f.Type, prefix+p)...)
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		out = append(out, Var{Name: prefix + strings.Split(name, ",")[0], Default: f.Tag.Get("envDefault"), Help: f.Tag.Get("help"), field: f.Name})
	}
	return out
}

// PrintHelp writes the environment variable table.
func PrintHelp(w io.Writer) {
	fmt.Fprintln(w, "settlement-worker settles payment requests from RabbitMQ with payment providers.")
	fmt.Fprintln(w, "\nConfiguration (environment variables):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tDESCRIPTION")
	for _, v := range Vars() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Help)
	}
	tw.Flush()
}

// MarkdownTable renders the variables as a Markdown table (for the README).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Description |\n| --- | --- | --- |\n")
	for _, v := range Vars() {
		d := v.Default
		if d != "" {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, d, v.Help)
	}
	return b.String()
}
