"""Shell completion scripts for ``lmfilter``, made from its own argparse parser.

:func:`script` reads the parser (its subcommands, their options, what each option takes) into
:class:`Command` values and writes them as data into a script for bash, zsh or fish, with a small walker
that finds which subcommand the words typed so far name. A command or option is completed as soon as the
parser has it: there is no second list to keep in step. What a value may be is also read from the parser:

- an option's or argument's ``choices`` are completed (``--target`` gives the targets);
- a value whose metavar names a path (``PATH``, ``FILE``, ``DIR``) or whose type is an
  :class:`argparse.FileType` is completed as a file path;
- anything else is free text (a filter, a model id) and completes nothing.

The scripts need nothing but the shell: no bash-completion package, and no Python at completion time.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tool")
>>> sub = parser.add_subparsers().add_parser("run", help="run it")
>>> _ = sub.add_argument("--mode", choices=["fast", "slow"])
>>> [(c.words, [o.names for o in c.options]) for c in commands(parser)]
[((), [('-h', '--help')]), (('run',), [('-h', '--help'), ('--mode',)])]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Shell = Literal["bash", "zsh", "fish"]
SHELLS: tuple[Shell, ...] = ("bash", "zsh", "fish")

_PATH_WORDS = frozenset({"PATH", "FILE", "DIR", "DIRECTORY"})  # metavar words that name a path
_WORD = re.compile(r"[\w.,+@%/:-]+")  # what a completed word may hold, so that no shell reads it as code
_HELP_WIDTH = 100  # characters of an option's help shown beside it (zsh, fish)


@dataclass(frozen=True)
class Option:
    """An option of a command: its names, what it takes, and its help on one line."""

    names: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    paths: bool = False


@dataclass(frozen=True)
class Command:
    """A command of the program, named by the subcommand words after the program's name (``()`` for the
    program itself), with its subcommands (name and help), its options, and what its positional
    arguments take: ``choices``, or file ``paths``."""

    words: tuple[str, ...]
    subcommands: tuple[tuple[str, str], ...]
    options: tuple[Option, ...]
    choices: tuple[str, ...] = ()
    paths: bool = False

    @property
    def key(self) -> str:
        """The subcommand words joined by spaces, as the scripts name a command."""
        return " ".join(self.words)


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command of ``parser``, the program first, then each subcommand after its parent.

    Raises :class:`ValueError` for a name or choice a completion script could not hold as a plain word.
    """
    return list(_walk(parser, ()))


def _walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> Iterator[Command]:
    subcommands: list[tuple[str, str]] = []
    children: list[tuple[argparse.ArgumentParser, tuple[str, ...]]] = []
    options: list[Option] = []
    choices: list[str] = []
    paths = False
    for action in parser._actions:  # argparse offers no public way to list them
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: _help(parser, choice) for choice in action._choices_actions}
            for name, child in action.choices.items():
                subcommands.append((_word(name), helps.get(name, "")))
                children.append((child, (*words, name)))
        elif action.option_strings:
            names = tuple(_word(name) for name in action.option_strings)
            takes_value = action.nargs != 0  # flags (store_true, count, help, version) take none
            options.append(Option(names, _help(parser, action), takes_value, *_values(action)))
        else:
            argument_choices, argument_paths = _values(action)
            choices += argument_choices
            paths = paths or argument_paths
    yield Command(words, tuple(subcommands), tuple(options), tuple(choices), paths)
    for child, child_words in children:
        yield from _walk(child, child_words)


def _values(action: argparse.Action) -> tuple[tuple[str, ...], bool]:
    """An action's choices, and whether its values are file paths."""
    if action.choices is not None:
        return tuple(_word(str(choice)) for choice in action.choices), False
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    named_path = bool(_PATH_WORDS.intersection(re.split(r"[^A-Za-z]+", metavar.upper())))
    return (), named_path or isinstance(action.type, argparse.FileType)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An action's help as ``--help`` shows it (``%(default)s`` filled in), on one line."""
    text = action.help or ""
    with contextlib.suppress(KeyError, TypeError, ValueError):  # a help with a stray % is shown as written
        text = text % {**vars(action), "prog": parser.prog}
    return _one_line(text)


def _one_line(text: str) -> str:
    return textwrap.shorten(text, _HELP_WIDTH, placeholder="…") if text.strip() else ""


def _word(text: str) -> str:
    if not _WORD.fullmatch(text):
        raise ValueError(
            f"cannot complete {text!r}: a completed word holds only letters, digits and .,+@%/:-"
        )
    return text


def script(parser: argparse.ArgumentParser, shell: Shell) -> str:
    """The completion script of ``parser`` (its ``prog`` is the command completed) for ``shell``."""
    prog = _word(parser.prog)
    name = "_" + re.sub(r"\W", "_", prog)  # the script's functions begin with it
    writers: dict[Shell, Callable[[str, str, Sequence[Command]], str]] = {
        "bash": _bash,
        "zsh": _zsh,
        "fish": _fish,
    }
    return writers[shell](prog, name, commands(parser))


# ---- bash ---------------------------------------------------------------------------------------------


def _bash_array(words: Sequence[str]) -> str:
    return "(" + " ".join(shlex.quote(word) for word in words) + ")"


def _tables(name: str, specs: str, unknown: str, found: Sequence[Command]) -> str:
    """The two lookup functions bash and zsh scripts share: a command's words (``specs``, the ``case`` arms,
    and ``unknown``, what any other command has), and what each valued option takes."""
    values = "\n".join(
        f"        {shlex.quote(command.key + ' ' + option_name)}) values={_bash_array(option.choices)}"
        f" paths={int(option.paths)} ;;"
        for command in found
        for option in command.options
        if option.takes_value
        for option_name in option.names
    )
    return f"""\
{name}_spec() {{  # the subcommands, options and arguments of a command: $1 is its subcommand words
    case "$1" in
{specs}
        *) {unknown} ;;
    esac
}}

{name}_values() {{  # what option $2 of command $1 takes
    values=() paths=0
    case "$1 $2" in
{values}
    esac
}}
"""


def _bash(prog: str, name: str, found: Sequence[Command]) -> str:
    specs = "\n".join(
        f"        {shlex.quote(command.key)}) subs={_bash_array([n for n, _ in command.subcommands])}"
        f" opts={_bash_array([n for o in command.options for n in o.names])}"
        f" valued={_bash_array([n for o in command.options if o.takes_value for n in o.names])}"
        f" arguments={_bash_array(command.choices)} paths={int(command.paths)} ;;"
        for command in found
    )
    return f"""\
# bash completion for {prog}, made by `{prog} completion bash` from {prog}'s own commands and options.
# Use it with: source <({prog} completion bash)
# or save it as ~/.local/share/bash-completion/completions/{prog}

{_tables(name, specs, "subs=() opts=() valued=() arguments=() paths=0", found)}
{name}_has() {{  # whether $1 is one of the other arguments
    local word="$1" item
    shift
    for item in "$@"; do
        [[ $item == "$word" ]] && return 0
    done
    return 1
}}

{name}_add() {{  # reply $1 followed by each of the other words that starts with $2
    local prefix="$1" cur="$2" word
    shift 2
    for word in "$@"; do
        [[ $word == "$cur"* ]] && COMPREPLY+=("$prefix$word")
    done
    return 0
}}

{name}_paths() {{  # reply $1 followed by each file path that starts with $2
    local prefix="$1" path
    compopt -o filenames 2>/dev/null
    while IFS= read -r path; do
        COMPREPLY+=("$prefix$path")
    done < <(compgen -f -- "$2")
    return 0
}}

{name}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" command="" option="" prefix="" word i options_end=0 paths=0
    local -a subs=() opts=() valued=() arguments=() values=()
    COMPREPLY=()
    {name}_spec ""
    for (( i = 1; i < COMP_CWORD; i++ )); do
        word="${{COMP_WORDS[i]}}"
        if [[ -n $option ]]; then  # the value of $option; "--option=value" is three words when = breaks words
            [[ $word == "=" ]] || option=""
            continue
        fi
        if (( options_end == 0 )) && [[ $word == -* ]]; then
            if [[ $word == -- ]]; then
                options_end=1
            elif [[ $word != *=* ]] && {name}_has "$word" "${{valued[@]}}"; then
                option="$word"
            fi
        elif {name}_has "$word" "${{subs[@]}}"; then
            command="${{command:+$command }}$word"
            {name}_spec "$command"
        fi
    done
    if [[ -n $option ]]; then
        [[ $cur == "=" ]] && cur=""
        {name}_values "$command" "$option"
    elif (( options_end == 0 )) && [[ $cur == -*=* ]]; then
        prefix="${{cur%%=*}}="
        {name}_values "$command" "${{cur%%=*}}"
        cur="${{cur#*=}}"
    elif (( options_end == 0 )) && [[ $cur == -* ]]; then
        {name}_add "" "$cur" "${{opts[@]}}"
        return 0
    elif (( ${{#subs[@]}} )); then
        {name}_add "" "$cur" "${{subs[@]}}"
        return 0
    else
        values=("${{arguments[@]}}")
    fi
    if (( paths )); then
        {name}_paths "$prefix" "$cur"
    else
        {name}_add "$prefix" "$cur" "${{values[@]}}"
    fi
    return 0
}}

complete -F {name} {prog}
"""


# ---- zsh ----------------------------------------------------------------------------------------------


def _zsh_described(pairs: Sequence[tuple[str, str]]) -> str:
    described = (word.replace(":", "\\:") + (f":{text}" if text else "") for word, text in pairs)
    return "(" + " ".join(shlex.quote(entry) for entry in described) + ")"


def _zsh(prog: str, name: str, found: Sequence[Command]) -> str:
    specs = "\n".join(
        f"        {shlex.quote(command.key)}) subs={_bash_array([n for n, _ in command.subcommands])}"
        f" subhelp={_zsh_described(command.subcommands)}"
        f" opthelp={_zsh_described([(n, o.help) for o in command.options for n in o.names])}"
        f" valued={_bash_array([n for o in command.options if o.takes_value for n in o.names])}"
        f" arguments={_bash_array(command.choices)} paths={int(command.paths)} ;;"
        for command in found
    )
    return f"""\
#compdef {prog}
# zsh completion for {prog}, made by `{prog} completion zsh` from {prog}'s own commands and options.
# Use it with: {prog} completion zsh > "${{fpath[1]}}/_{prog}"  (then start a new shell)
# or, after compinit: source <({prog} completion zsh)

{_tables(name, specs, "subs=() subhelp=() opthelp=() valued=() arguments=() paths=0", found)}
{name}() {{
    local cur="${{words[CURRENT]}}" command="" option="" word i options_end=0 paths=0
    local -a subs subhelp opthelp valued arguments values
    {name}_spec ""
    for (( i = 2; i < CURRENT; i++ )); do
        word="${{words[i]}}"
        if [[ -n $option ]]; then  # the value of $option
            option=""
            continue
        fi
        if (( options_end == 0 )) && [[ $word == -* ]]; then
            if [[ $word == -- ]]; then
                options_end=1
            elif [[ $word != *=* ]] && (( ${{valued[(Ie)$word]}} )); then
                option="$word"
            fi
        elif (( ${{subs[(Ie)$word]}} )); then
            command="${{command:+$command }}$word"
            {name}_spec "$command"
        fi
    done
    if [[ -n $option ]]; then
        {name}_values "$command" "$option"
    elif (( options_end == 0 )) && [[ $cur == -*=* ]]; then
        {name}_values "$command" "${{cur%%=*}}"
        compset -P '*='
    elif (( options_end == 0 )) && [[ $cur == -* ]]; then
        _describe -t options 'option' opthelp
        return
    elif (( ${{#subs}} )); then
        _describe -t commands 'command' subhelp
        return
    else
        values=("${{arguments[@]}}")
    fi
    if (( paths )); then
        _files
    elif (( ${{#values}} )); then
        compadd -a values
    fi
}}

if [[ "${{funcstack[1]}}" == {name} ]]; then
    {name} "$@"
else
    compdef {name} {prog}
fi
"""


# ---- fish ---------------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_switch(found: Sequence[Command], words: Callable[[Command], Sequence[str]]) -> str:
    return "\n".join(
        f"        case {_fish_quote(command.key)}\n            printf '%s\\n' "
        + " ".join(_fish_quote(word) for word in words(command))
        for command in found
        if words(command)
    )


def _fish_option(option: Option) -> str:
    flags = []
    for option_name in option.names:
        if option_name.startswith("--"):
            flags.append(f"-l {_fish_quote(option_name[2:])}")
        elif len(option_name) == 2:
            flags.append(f"-s {_fish_quote(option_name[1:])}")
        else:
            flags.append(f"-o {_fish_quote(option_name[1:])}")
    if option.paths:
        flags.append("-r -F")
    elif option.takes_value:
        flags.append("-x")
        if option.choices:
            flags.append("-a " + _fish_quote(" ".join(option.choices)))
    return " ".join(flags)


def _fish(prog: str, name: str, found: Sequence[Command]) -> str:
    lines = [f"complete -c {prog} -f  # no file names, but where a path goes"]
    for command in found:
        at = "-n " + _fish_quote(f"{name}_at {_fish_quote(command.key)}")
        for sub, text in command.subcommands:
            lines.append(f"complete -c {prog} {at} -a {_fish_quote(sub)} -d {_fish_quote(text)}")
        for option in command.options:
            lines.append(f"complete -c {prog} {at} {_fish_option(option)} -d {_fish_quote(option.help)}")
        if command.paths:
            lines.append(f"complete -c {prog} {at} -F")
        elif command.choices:
            lines.append(f"complete -c {prog} {at} -a {_fish_quote(' '.join(command.choices))}")
    completes = "\n".join(lines)
    valued = _fish_switch(found, lambda c: [n for o in c.options if o.takes_value for n in o.names])
    return f"""\
# fish completion for {prog}, made by `{prog} completion fish` from {prog}'s own commands and options.
# Use it with: {prog} completion fish > ~/.config/fish/completions/{prog}.fish

function {name}_subcommands --argument-names command --description 'the subcommands of a command'
    switch "$command"
{_fish_switch(found, lambda c: [n for n, _ in c.subcommands])}
    end
end

function {name}_valued --argument-names command --description 'the options of a command that take a value'
    switch "$command"
{valued}
    end
end

function {name}_command --description 'the subcommand words typed so far'
    set -l command ''
    set -l skip 0
    set -l options_end 0
    set -l tokens (commandline -opc)
    set -e tokens[1]  # the program's name
    for token in $tokens
        if test $skip = 1
            set skip 0
        else if test $options_end = 0; and test "$token" = '--'
            set options_end 1
        else if test $options_end = 0; and string match -q -- '-*' "$token"
            if not string match -q -- '*=*' "$token"; and contains -- "$token" ({name}_valued "$command")
                set skip 1
            end
        else if contains -- "$token" ({name}_subcommands "$command")
            set command (string trim -- "$command $token")
        end
    end
    echo "$command"
end

function {name}_at --argument-names expected --description 'whether the subcommand typed is the one expected'
    set -l command ({name}_command)
    test "$command" = "$expected"
end

{completes}
"""
