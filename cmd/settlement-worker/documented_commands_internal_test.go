package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedCommandsParse: every operator command line the runbook,
// the other docs, the README and the alerts' descriptions tell a person to
// run names a command, flags and arguments this binary takes (parsed and
// checked by the command tree as a run would, up to its PreRunE; nothing
// runs). The placeholders stand for values: P a provider, S a state, D an
// age, ID a request id,
// {{ $labels.x }} an alert's label.
func TestDocumentedCommandsParse(t *testing.T) {
	files := []string{"../../README.md", "../../docs/runbook.md", "../../docs/metrics.md", "../../docs/amqp.md",
		"../../docs/providers.md", "../../docs/safety.md", "../../docs/docker.md", "../../deployments/prometheus/alerts.yml"}
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range documentedCommands(string(raw)) {
			n++
			if err := parseCommandLine(line); err != nil {
				t.Errorf("%s: `settlement-worker %s`: %v", f, line, err)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d documented command lines found", n)
	}
}

var (
	fence       = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	inlineCode  = regexp.MustCompile("`([^`]+)`")
	commandLine = regexp.MustCompile(`(?:^|settlement-worker )((?:parked|show|stuck|stats|tail|publish|replay-parked|retention|run|version)\b.*)`)
	placeholder = map[string]string{"P": "radial", "PROVIDER": "radial", "S": "confirming", "D": "2160h", "ID": "r1", "REQUEST_ID": "r1", "MESSAGE_ID": "m1",
		"{{ $labels.provider }}": "radial", "{{ $labels.state }}": "confirming"}
)

// documentedCommands returns the argument lines after "settlement-worker "
// in text's code, or of a code span that starts with a command ("`parked
// purge --request-id ID`"): fenced blocks line by line, inline code spans
// (which may wrap) whole.
func documentedCommands(text string) []string {
	var spans []string
	for _, m := range fence.FindAllStringSubmatch(text, -1) {
		spans = append(spans, strings.Split(m[1], "\n")...)
	}
	text = fence.ReplaceAllString(text, "")
	for _, m := range inlineCode.FindAllStringSubmatch(text, -1) {
		spans = append(spans, strings.Join(strings.Fields(m[1]), " "))
	}
	var out []string
	for _, s := range spans {
		m := commandLine.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		line := m[1]
		if strings.Contains(line, " [") {
			continue // a synopsis: [--flag VALUE] is optional, not a command line
		}
		for _, stop := range []string{" |", " #", " &", " \\", " >"} {
			if i := strings.Index(line, stop); i >= 0 {
				line = line[:i]
			}
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// parseCommandLine parses line as the command tree does before running it.
func parseCommandLine(line string) error {
	for k, v := range placeholder {
		if strings.HasPrefix(k, "{{") {
			line = strings.ReplaceAll(line, k, v)
		}
	}
	args, err := shellWords(line)
	if err != nil {
		return err
	}
	for i, a := range args {
		if v, ok := placeholder[a]; ok {
			args[i] = v
		}
	}
	root := newRootCmd(io.Discard, io.Discard)
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if c == root {
		return nil
	}
	if len(rest) == 0 {
		return nil // the command named in prose ("`settlement-worker show` prints …")
	}
	if c.Name() == "purge" { // it asks on a terminal; here stdin is none
		rest = append(rest, "--yes")
	}
	if err := c.ParseFlags(rest); err != nil {
		return err
	}
	positional := c.Flags().Args()
	if err := c.ValidateArgs(positional); err != nil {
		return err
	}
	if c.PreRunE != nil {
		return c.PreRunE(c, positional)
	}
	return nil
}

// shellWords splits s as a shell would: words, '…' and "…" quoting.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
