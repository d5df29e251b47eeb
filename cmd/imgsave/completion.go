package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints a script that completes imgsave's commands, subcommands and flags,
made from imgsave's own command definitions, so it knows exactly the
commands and flags of this version. Arguments (directories, images) and
flag values complete as file names. The script asks imgsave nothing when
you press Tab.

EXAMPLES:
   source <(imgsave completion bash)                 in ~/.bashrc
   imgsave completion bash > /etc/bash_completion.d/imgsave
   imgsave completion zsh > "${fpath[1]}/_imgsave"
   imgsave completion fish > ~/.config/fish/completions/imgsave.fish`,
		Action: func(c *cli.Context) error {
			a, err := args(c, "SHELL")
			if err != nil {
				return err
			}
			var script string
			switch a[0] {
			case "bash":
				script = bashCompletion(c.App)
			case "zsh":
				// zsh runs bash's script through its bashcompinit.
				script = "#compdef " + c.App.Name + "\nautoload -U +X bashcompinit && bashcompinit\n" + bashCompletion(c.App)
			case "fish":
				if script, err = c.App.ToFishCompletion(); err != nil {
					return err
				}
			default:
				return usagef(c, "completion: want bash, zsh or fish, got %q", a[0])
			}
			_, err = io.WriteString(e.stdout, script)
			return err
		},
	}
}

// bashCompletion is a bash completion script for app: for each command
// path ("" for imgsave itself, "remote init"), its subcommands and flags,
// and the flags that take a value (whose value, like every argument,
// completes as a file name).
func bashCompletion(app *cli.App) string {
	var subs, flags, valued strings.Builder
	var walk func(path string, cmds []*cli.Command, fl []cli.Flag)
	walk = func(path string, cmds []*cli.Command, fl []cli.Flag) {
		var names []string
		for _, c := range cmds {
			if !c.Hidden && c.Name != "help" {
				names = append(names, c.Name)
			}
		}
		var all, takes []string
		for _, f := range fl {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				n = dashed(n)
				all = append(all, n)
				if d, ok := f.(cli.DocGenerationFlag); ok && d.TakesValue() {
					takes = append(takes, n)
				}
			}
		}
		if path != "" {
			all = append(all, "--help", "-h") // urfave/cli adds them when the command runs
		}
		slices.Sort(all)
		all = slices.Compact(all)
		fmt.Fprintf(&subs, "\t%q) echo %q ;;\n", path, strings.Join(names, " "))
		fmt.Fprintf(&flags, "\t%q) echo %q ;;\n", path, strings.Join(all, " "))
		fmt.Fprintf(&valued, "\t%q) echo %q ;;\n", path, strings.Join(takes, " "))
		for _, c := range cmds {
			if !c.Hidden && c.Name != "help" {
				walk(strings.TrimSpace(path+" "+c.Name), c.Subcommands, c.Flags)
			}
		}
	}
	walk("", app.Commands, app.Flags)
	n := app.Name
	return fmt.Sprintf(`# bash completion for %[1]s, made by '%[1]s completion bash' from its command
# definitions: commands, subcommands and flags; arguments and flag values
# complete as file names.
_%[1]s_subcommands() {
	case $1 in
%[2]s	esac
}
_%[1]s_flags() {
	case $1 in
%[3]s	esac
}
_%[1]s_valued() {
	case $1 in
%[4]s	esac
}
_%[1]s() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd= w i
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--) return 0 ;; # the container's command: file names
		-*=*) ;;
		-*) [[ " $(_%[1]s_valued "$cmd") " == *" $w "* ]] && ((i++)) ;;
		*) [[ " $(_%[1]s_subcommands "$cmd") " == *" $w "* ]] && cmd=${cmd:+$cmd }$w ;;
		esac
	done
	if ((COMP_CWORD > 1)) && [[ " $(_%[1]s_valued "$cmd") " == *" ${COMP_WORDS[COMP_CWORD-1]} "* ]]; then
		return 0
	fi
	case $cur in
	-*) COMPREPLY=($(compgen -W "$(_%[1]s_flags "$cmd")" -- "$cur")) ;;
	*) COMPREPLY=($(compgen -W "$(_%[1]s_subcommands "$cmd")" -- "$cur")) ;;
	esac
	return 0
}
complete -o default -F _%[1]s %[1]s
`, n, subs.String(), flags.String(), valued.String())
}

// dashed is a flag's name as typed: -q, --quiet.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
