package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// command is one nexusctl command: how it is called, what it does, and
// what runs it once its flags and arguments have been parsed. Every
// command's flags and argument count are checked before anything runs,
// so a mistyped call never half-happens.
type command struct {
	name     string   // the words that select it: "token create"
	args     string   // its positional arguments, for the synopsis: "SPIFFE_ID"
	opts     string   // its flags, for the synopsis: "[--ttl 10m]"
	summary  string   // what it does; a "\n" breaks the line in the command list
	local    bool     // needs no control plane and takes none of the global flags
	min, max int      // how many positional arguments it takes; max -1: no limit
	required []string // flags that must be given a value
	// flags defines the command's flags on fs and returns what runs it.
	flags func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments.
type runFunc func(ctx context.Context, e *env, args []string) error

// env is what a command runs with.
type env struct {
	c              *client
	stdout, stderr io.Writer
	dataDir        string
}

// noFlags is the flags of a command that has none.
func noFlags(run runFunc) func(*flag.FlagSet) runFunc {
	return func(*flag.FlagSet) runFunc { return run }
}

func (c *command) synopsis() string {
	s := "nexusctl "
	if !c.local {
		s += "[flags] "
	}
	return strings.Join(strings.Fields(s+c.name+" "+c.args+" "+c.opts), " ")
}

// newFlagSet is a command's flag set; the flag package prints nothing,
// so that Run reports a flag error once, with the command's own usage.
func (c *command) newFlagSet() (*flag.FlagSet, runFunc) {
	fs := flag.NewFlagSet("nexusctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs, c.flags(fs)
}

// parse parses a command's arguments, its flags wherever they are as
// kubectl does, and checks them: the positional arguments it returns are
// as many as the command takes and every required flag has a value.
func (c *command) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case c.max >= 0 && len(pos) > c.max:
		extra := pos[c.max:]
		quoted := make([]string, len(extra))
		for i, a := range extra {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		noun := "argument"
		if len(extra) > 1 {
			noun += "s"
		}
		return nil, fmt.Errorf("unexpected %s %s", noun, strings.Join(quoted, " "))
	case len(pos) < c.min:
		return nil, fmt.Errorf("want %s, got %s", c.args, plural(len(pos), "argument"))
	}
	for _, name := range c.required {
		if fs.Lookup(name).Value.String() == "" {
			return nil, fmt.Errorf("--%s is required", name)
		}
	}
	return pos, nil
}

// parseInterspersed parses flags before, between and after the positional
// arguments and returns the positional ones; after "--" every argument is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// resolve finds the command that the leading words of args name, the
// longest name first ("audit verify" before "audit"), and returns it with
// the arguments after its name. When none does, group is args[0] if that
// is the first word of some commands (token, rollout).
func resolve(cmds []command, args []string) (c *command, rest []string, group string) {
	for n := min(2, len(args)); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		for i := range cmds {
			if cmds[i].name == name {
				return &cmds[i], args[n:], ""
			}
		}
	}
	if len(args) > 0 && len(children(cmds, args[0])) > 0 {
		return nil, nil, args[0]
	}
	return nil, nil, ""
}

// children are the commands whose names start with the words of name.
func children(cmds []command, name string) []command {
	var out []command
	for _, c := range cmds {
		if strings.HasPrefix(c.name, name+" ") {
			out = append(out, c)
		}
	}
	return out
}

// parseGroup reports what is wrong with a call of a command group that
// names none of its commands (`nexusctl token`, `nexusctl token frob`);
// help asked for is flag.ErrHelp.
func parseGroup(cmds []command, group string, args []string) error {
	fs := flag.NewFlagSet("nexusctl "+group, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var names []string
	for _, c := range children(cmds, group) {
		names = append(names, "`"+c.name+"`")
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	if len(pos) == 0 {
		return fmt.Errorf("missing command: want %s", want)
	}
	return fmt.Errorf("unknown command %q: want %s", pos[0], want)
}

// listCommands writes each command's synopsis with its summary beside it,
// or under it when the synopsis is long.
func listCommands(w io.Writer, cmds []command) {
	const col = 45
	for _, c := range cmds {
		syn := c.synopsis()
		lines := strings.Split(c.summary, "\n")
		if utf8.RuneCountInString(syn) <= col-2 {
			fmt.Fprintf(w, "  %-*s%s\n", col, syn, lines[0])
		} else {
			fmt.Fprintf(w, "  %s\n  %*s%s\n", syn, col, "", lines[0])
		}
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "  %*s%s\n", col, "", l)
		}
	}
}

// printFlags writes a flag set's flags as kubectl does, --name for long
// names, each with its help and its default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, help := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(w, "  %s%s", dash, f.Name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n      %s", strings.ReplaceAll(help, "\n", "\n      "))
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					fmt.Fprintf(w, " (default %q)", f.DefValue)
					break
				}
			}
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// printCommandUsage writes one command's usage: what it does, how it is
// called, the commands under it and its flags.
func printCommandUsage(w io.Writer, cmds []command, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\n", strings.ReplaceAll(c.summary, "\n", " "))
	printSynopsis(w, cmds, c, fs)
}

// printSynopsis is a command's usage after what it does: how it is
// called, the commands under it and its flags.
func printSynopsis(w io.Writer, cmds []command, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage:\n  %s\n", c.synopsis())
	if sub := children(cmds, c.name); len(sub) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		listCommands(w, sub)
	}
	if hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs)
	}
	if !c.local {
		fmt.Fprintln(w, "\nThe global flags (--server, --token-file, …) go before the command; `nexusctl help` lists them.")
	}
}

// printGroupUsage writes the usage of a command group, such as token.
func printGroupUsage(w io.Writer, cmds []command, group string) {
	fmt.Fprintln(w, "Usage:")
	listCommands(w, children(cmds, group))
	fmt.Fprintf(w, "\nRun `nexusctl %s COMMAND --help` for a command's flags.\n", group)
}

// printGlobalUsage writes nexusctl's usage: every command and the global
// flags.
func printGlobalUsage(w io.Writer, cmds []command, fs *flag.FlagSet) {
	fmt.Fprint(w, "nexusctl — operate a SecureAI Nexus control plane\n\nUsage:\n")
	listCommands(w, cmds)
	fmt.Fprintln(w, "\nFlags (before the command):")
	printFlags(w, fs)
	fmt.Fprintln(w, "\nRun `nexusctl COMMAND --help` for a command's own flags.")
}

// help runs `nexusctl help [COMMAND]`.
func help(stdout, stderr io.Writer, cmds []command, global *flag.FlagSet, args []string) int {
	if len(args) == 0 {
		printGlobalUsage(stdout, cmds, global)
		return 0
	}
	c, rest, group := resolve(cmds, args)
	switch {
	case c != nil && len(rest) == 0:
		fs, _ := c.newFlagSet()
		printCommandUsage(stdout, cmds, c, fs)
		return 0
	case group != "" && len(args) == 1:
		printGroupUsage(stdout, cmds, group)
		return 0
	}
	fmt.Fprintf(stderr, "nexusctl help: unknown command %q (see nexusctl help)\n", strings.Join(args, " "))
	return 1
}

// dispatch resolves, parses and runs one command. setup, called only
// once the command line is known to be right, makes the admin API client.
func dispatch(ctx context.Context, cmds []command, args []string, stdout, stderr io.Writer, setup func(*command) (*env, func(), error)) int {
	c, rest, group := resolve(cmds, args)
	if c == nil && group == "" {
		fmt.Fprintf(stderr, "nexusctl: unknown command %q (see nexusctl help)\n", args[0])
		return 1
	}
	if c == nil {
		err := parseGroup(cmds, group, args[1:])
		if errors.Is(err, flag.ErrHelp) {
			printGroupUsage(stdout, cmds, group)
			return 0
		}
		fmt.Fprintf(stderr, "nexusctl %s: %v\n\n", group, err)
		printGroupUsage(stderr, cmds, group)
		return 2
	}
	fs, run := c.newFlagSet()
	pos, err := c.parse(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(stdout, cmds, c, fs)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "nexusctl %s: %v\n\n", c.name, err)
		printSynopsis(stderr, cmds, c, fs)
		return 2
	}
	e, done, err := setup(c)
	if err != nil {
		fmt.Fprintln(stderr, "nexusctl:", err)
		return 1
	}
	defer done()
	if err := run(ctx, e, pos); err != nil {
		fmt.Fprintln(stderr, "nexusctl:", err)
		return 1
	}
	return 0
}
