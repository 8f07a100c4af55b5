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
// Defaults come from the envDefault tags, or, for the intake and webhook
// sections whose defaults are set in code, from their ApplyDefaults.
func Vars() []Var {
	var d Config
	d.Intake.ApplyDefaults()
	d.Intake.Addr = "off"
	d.Webhook.ApplyDefaults()
	return vars(reflect.ValueOf(d), "")
}

func vars(v reflect.Value, prefix string) []Var {
	t := v.Type()
	var out []Var
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			out = append(out, vars(v.Field(i), prefix+p)...)
			continue
		}
		name := strings.Split(f.Tag.Get("env"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		def := f.Tag.Get("envDefault")
		if _, tagged := f.Tag.Lookup("envDefault"); !tagged && !v.Field(i).IsZero() {
			def = fmt.Sprint(v.Field(i).Interface())
			if fv, ok := v.Field(i).Interface().([]string); ok {
				def = strings.Join(fv, ",")
			}
		}
		out = append(out, Var{Name: prefix + name, Default: def, Help: f.Tag.Get("help"), field: f.Name})
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
