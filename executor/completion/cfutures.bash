# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Bash completion for cfutures: subcommands, their options, and the
# arguments of the options where they are cheap to know (files, job counts,
# --halt's forms, pool kinds). Plain bash (complete, compgen): it does not
# need the bash-completion package, though it is installed where that
# package looks.

_cfutures_files() {
  local IFS=$'\n'
  COMPREPLY=($(compgen -f -- "$1"))
  # A directory is a step on the way to a file: no space after it.
  if [ ${#COMPREPLY[@]} -eq 1 ] && [ -d "${COMPREPLY[0]}" ]; then
    COMPREPLY=("${COMPREPLY[0]}/")
    compopt -o nospace 2>/dev/null
  fi
}

_cfutures_words() {
  local IFS=$' \t\n'
  COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# The value of option $1, being typed as $2.
_cfutures_value() {
  local opt=$1 cur=$2
  case $opt in
  -a | --arg-file | --joblog | --plot) _cfutures_files "$cur" ;;
  -j | --jobs)
    local n
    n=$(nproc 2>/dev/null || echo 2)
    _cfutures_words "$(seq 1 $((n * 2)))" "$cur"
    ;;
  --halt)
    _cfutures_words "now,fail=1 soon,fail=1 now,success=1 soon,success=1 never" "$cur"
    ;;
  --kind) _cfutures_words "thread process" "$cur" ;;
  --workers) _cfutures_words "auto 1,2,4 1,2,4,8" "$cur" ;;
  *) COMPREPLY=() ;; # a number or a time: nothing to offer
  esac
}

_cfutures() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local top="run bench help version"
  local run_opts="-0 --null -a --arg-file --dry-run -h --help --halt -j
    --jobs --joblog -k --keep-order --progress --resume --resume-failed
    --retries --shell --timeout"
  local run_valued="-a --arg-file --halt -j --jobs --joblog --retries --timeout"
  local bench_opts="--csv -h --help --json --kind --plot --repeat --tasks
    --workers"
  local bench_valued="--kind --plot --repeat --tasks --workers"
  COMPREPLY=()

  if [ "$COMP_CWORD" -le 1 ]; then
    case $cur in
    -*) _cfutures_words "-h --help --version" "$cur" ;;
    *) _cfutures_words "$top" "$cur" ;;
    esac
    return 0
  fi

  local sub=${COMP_WORDS[1]} opts valued
  case $sub in
  help)
    [ "$COMP_CWORD" -eq 2 ] && _cfutures_words "$top" "$cur"
    return 0
    ;;
  run) opts=$run_opts valued=$run_valued ;;
  bench) opts=$bench_opts valued=$bench_valued ;;
  *) return 0 ;;
  esac

  # Walk the words before the cursor: options (and their values), then the
  # command, its arguments and the input sources.
  local i=2 w state=options want_value=
  while [ "$i" -lt "$COMP_CWORD" ]; do
    w=${COMP_WORDS[i]}
    if [ -n "$want_value" ]; then
      # bash splits --opt=value at '=': the value is the word after it.
      [ "$w" = "=" ] || want_value=
    elif [ "$state" = options ]; then
      case $w in
      --) state=command ;;
      =) ;; # bash split --opt=value at '='
      --*=*) ;;
      -*)
        case " $valued " in
        *" $w "*)
          # The value is the next word, unless attached (-j4).
          want_value=1
          ;;
        esac
        case $w in -[aj]?*) want_value= ;; esac
        ;;
      *)
        if [ "$sub" = run ]; then
          state=args
          case $w in :::* ) state=source ;; esac
        else
          state=workload
        fi
        ;;
      esac
    elif [ "$state" = command ]; then
      state=args
      [ "$sub" = run ] && case $w in :::*) state=source ;; esac
    else
      case $w in ::: | ::::) [ "$sub" = run ] && state=source ;; esac
    fi
    i=$((i + 1))
  done

  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  if [ -n "$want_value" ]; then
    if [ "$cur" = "=" ]; then
      _cfutures_value "$prev" ""
    elif [ "$prev" = "=" ]; then
      _cfutures_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
    else
      _cfutures_value "$prev" "$cur"
    fi
    return 0
  fi
  # --opt=value typed as one word (bash splits it only when '=' is in
  # COMP_WORDBREAKS, as it is by default).
  if [ "$state" = options ]; then
    case $cur in
    --*=*)
      _cfutures_value "${cur%%=*}" "${cur#*=}"
      local k
      for k in "${!COMPREPLY[@]}"; do
        COMPREPLY[k]="${cur%%=*}=${COMPREPLY[k]}"
      done
      return 0
      ;;
    esac
  fi

  case $state in
  options)
    case $cur in
    -*) _cfutures_words "$opts --" "$cur" ;;
    *)
      if [ "$sub" = run ]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -c -- "$cur"))
      else
        _cfutures_words "cpu sleep noop mixed" "$cur"
      fi
      ;;
    esac
    ;;
  command)
    local IFS=$'\n'
    COMPREPLY=($(compgen -c -- "$cur"))
    ;;
  args | source)
    # Input values and command arguments are most often file names; after
    # the command, run also takes the source separators.
    case $cur in
    :*) [ "$sub" = run ] && _cfutures_words "::: ::::" "$cur" ;;
    *) _cfutures_files "$cur" ;;
    esac
    ;;
  *) ;; # after bench's workload: nothing more
  esac
  return 0
}

complete -F _cfutures cfutures
