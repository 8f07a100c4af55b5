package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
	field               string
	isMap               bool // a KEY:VALUE,... list
}

// Vars lists every environment variable the worker reads, in field order.
// Defaults come from the envDefault tags, or, for the intake and webhook
// sections whose defaults are set in code, from their ApplyDefaults.
// Each registered provider's section is listed where Config holds the
// sections, under its EnvPrefix.
func Vars(reg providers.Registry) []Var {
	var d Config
	d.Intake.ApplyDefaults()
	d.Intake.Addr = "off"
	d.Webhook.ApplyDefaults()
	return vars(reflect.ValueOf(d), "", reg)
}

func vars(v reflect.Value, prefix string, reg providers.Registry) []Var {
	t := v.Type()
	var out []Var
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "Sections" && v.Type() == reflect.TypeFor[Config]() {
			for _, r := range reg {
				out = append(out, vars(reflect.ValueOf(r.NewSection()).Elem(), r.EnvPrefix, nil)...)
			}
			continue
		}
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			out = append(out, vars(v.Field(i), prefix+p, nil)...)
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
		help := strings.ReplaceAll(f.Tag.Get("help"), "{providers}", strings.Join(reg.Names(), ", "))
		out = append(out, Var{Name: prefix + name, Default: def, Help: help, field: f.Name, isMap: f.Type.Kind() == reflect.Map})
	}
	return out
}

// PrintHelp writes the environment variable table.
func PrintHelp(w io.Writer, reg providers.Registry) {
	fmt.Fprintln(w, "settlement-worker settles payment requests from RabbitMQ with payment providers.")
	fmt.Fprintln(w, "\nConfiguration (environment variables):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tDESCRIPTION")
	for _, v := range Vars(reg) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Help)
	}
	tw.Flush()
}

// MarkdownTable renders the variables as a Markdown table (for the README).
func MarkdownTable(reg providers.Registry) string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Description |\n| --- | --- | --- |\n")
	for _, v := range Vars(reg) {
		d := v.Default
		if d != "" {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, d, v.Help)
	}
	return b.String()
}
