#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that the API reference documents every public entity.

  check_reference.py INCLUDE_DIR XML_DIR
      (a) parses the public headers under INCLUDE_DIR on its own (functions,
      typedefs, enums and their values, macros, struct and union fields),
      (b) reads Doxygen's XML output in XML_DIR and counts the members that
      are documented: a non-empty description; for a function, a callback
      typedef or a macro with parameters, a description of each parameter;
      for a function, also a documented return (unless it returns void) and
      a "Blocking and threads" paragraph; every member in a group.
      Fails, listing the names, when the two sets differ.

  check_reference.py --self-test INCLUDE_DIR DOXYFILE
      Proves the check can fail: copies the headers to a temporary
      directory, removes one piece of documentation at a time (a function's
      comment, a @param, a @return, an enumerator's, a field's, a macro's;
      or declares a new function without one),
      runs Doxygen on the copy (warnings not fatal, so that the check alone
      judges) and requires the check to fail naming the entity.

Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

THREADS_TITLE = "Blocking and threads"

# ---------------------------------------------------------------------------
# (a) Declarations in the headers
# ---------------------------------------------------------------------------


class Decl:
    """A public entity: kind, name, and what its documentation must cover."""

    def __init__(self, kind, name, where, params=(), returns=False):
        self.kind = kind  # function, typedef, enum, enumvalue, macro, field
        self.name = name  # "cf_submit", "cf_buffer::len"
        self.where = where  # "cfutures.h"
        self.params = list(params)  # parameter names that need a @param
        self.returns = returns  # needs a @return


def strip_comments(text):
    """Blanks out comments (keeping newlines, so offsets stay valid) and
    leaves strings alone."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def logical_lines(text):
    """Joins backslash-continued lines."""
    return re.sub(r"\\\n", " ", text).split("\n")


def split_top(text, sep):
    """Splits text at sep where no (), [] or {} is open."""
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def macro_args(text, start):
    """The comma-separated arguments of the call whose '(' is at start, and
    the index after its ')'."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : i]
                return [a.strip() for a in split_top(inner, ",")], i + 1
        i += 1
    raise ValueError("unbalanced macro call")


def expand(body, macros, depth=0):
    """Expands function-like macros in body: enough for X-macro tables
    (MAP(F) with MAP's body a list of X(...) calls)."""
    if depth > 8:
        return body
    out, i = [], 0
    ident = re.compile(r"[A-Za-z_]\w*")
    while i < len(body):
        m = ident.match(body, i)
        if not m:
            out.append(body[i])
            i += 1
            continue
        name = m.group(0)
        j = m.end()
        k = j
        while k < len(body) and body[k].isspace():
            k += 1
        called = k < len(body) and body[k] == "("
        if called and name in macros and macros[name][0] is not None:
            params, mbody = macros[name]
            args, end = macro_args(body, k)
            if len(args) == len(params):
                sub = mbody
                for p, a in zip(params, args):
                    sub = re.sub(r"\b%s\b" % re.escape(p), lambda _m, a=a: a, sub)
                sub = re.sub(r"\s*##\s*", "", sub)
                out.append(" " + expand(sub, macros, depth + 1) + " ")
                i = end
                continue
        out.append(name)
        i = j
    return "".join(out)


def is_guard(name):
    return re.fullmatch(r"CFUTURES\w*_H", name) is not None


def public(name):
    return not (name.startswith("cf__") or name.startswith("CF__"))


def declarator_name(decl):
    """The declared identifier of one declarator ('int *a[3]', 'void (*f)(int)',
    'unsigned x : 3')."""
    decl = decl.split(":")[0] if "(" not in decl else decl
    m = re.search(r"\(\s*\*+\s*([A-Za-z_]\w*)\s*\)", decl)
    if m:
        return m.group(1)
    decl = re.sub(r"\[[^\]]*\]", "", decl)
    names = re.findall(r"[A-Za-z_]\w*", decl)
    return names[-1] if names else None


def param_names(plist):
    """Parameter names of a prototype's parameter list ('void' is none)."""
    plist = plist.strip()
    if plist in ("", "void"):
        return []
    names = []
    for p in split_top(plist, ","):
        p = p.strip()
        if p == "...":
            continue
        names.append(declarator_name(p))
    return names


def fields_of(body, owner, where, decls):
    for stmt in split_top(body, ";"):
        stmt = " ".join(stmt.split())
        if not stmt:
            continue
        for d in split_top(stmt, ","):
            name = declarator_name(d)
            if name:
                decls.append(Decl("field", owner + "::" + name, where))


def enum_values(body, where, decls):
    for item in split_top(body, ","):
        item = item.strip()
        if item:
            name = re.match(r"[A-Za-z_]\w*", item).group(0)
            decls.append(Decl("enumvalue", name, where))


def parse_statement(stmt, macros, where, decls):
    stmt = " ".join(stmt.split())
    if not stmt:
        return
    # Aggregates with a body: typedef struct/union/enum [tag] { ... } name;
    m = re.match(
        r"(typedef\s+)?(struct|union|enum)\s*([A-Za-z_]\w*)?\s*"
        r"\{(.*)\}\s*([A-Za-z_]\w*)?\s*$",
        stmt,
    )
    if m:
        is_typedef, kind, tag, body, tname = m.groups()
        name = tname if is_typedef else tag
        if kind == "enum":
            if name:
                decls.append(Decl("enum", name, where))
            enum_values(expand(body, macros), where, decls)
        else:
            decls.append(Decl("typedef" if is_typedef else "struct", name, where))
            fields_of(body, name, where, decls)
        return
    # A forward declaration of a foreign tag (struct event_base;) is no entity.
    if re.fullmatch(r"(struct|union|enum)\s+\w+", stmt):
        return
    if stmt.startswith("typedef "):
        rest = stmt[len("typedef ") :]
        fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\((.*)\)\s*$", rest)
        if fp:
            ret = rest[: fp.start()].strip()
            params = param_names(fp.group(2))
            decls.append(Decl("typedef", fp.group(1), where, params, ret != "void"))
        else:
            decls.append(Decl("typedef", declarator_name(rest), where))
        return
    # A function prototype: [CF_EXTERN] type name(params)
    fm = re.match(r"(.*?)([A-Za-z_]\w*)\s*\((.*)\)\s*$", stmt)
    if fm:
        ret = re.sub(r"\b(CF_EXTERN|extern|static|inline)\b", "", fm.group(1)).strip()
        if re.search(r"\bstatic\b", fm.group(1)) and not re.search(r"\binline\b", fm.group(1)):
            return  # a file-local function is not API
        decls.append(Decl("function", fm.group(2), where, param_names(fm.group(3)), ret != "void"))
        return
    # A variable.
    decls.append(Decl("variable", declarator_name(stmt), where))


def parse_header(path, rel, decls):
    text = strip_comments(open(path, encoding="utf-8").read())
    macros = {}  # name -> (params or None, body)
    code = []
    skip = []  # stack: True while inside #ifdef __cplusplus
    for line in logical_lines(text):
        s = line.strip()
        if s.startswith("#"):
            d = re.match(r"#\s*(\w+)\s*(.*)", s)
            directive, arg = (d.group(1), d.group(2)) if d else ("", "")
            if directive in ("if", "ifdef", "ifndef"):
                skip.append(directive == "ifdef" and arg.strip() == "__cplusplus")
            elif directive == "endif":
                skip.pop()
            elif directive == "define" and not any(skip):
                dm = re.match(r"([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)", arg)
                name, has_params, plist, body = dm.groups()
                params = [p.strip() for p in plist.split(",") if p.strip()] if has_params else None
                macros[name] = (params, body)
                known = {x.name for x in decls if x.kind == "macro"}
                if not is_guard(name) and public(name) and name not in known:
                    decls.append(Decl("macro", name, rel, params or []))
            continue
        if any(skip):
            continue
        code.append(line)
    code = " ".join(code)
    # Top-level statements end at ';' outside braces, or at the '}' that
    # closes a function's body (a static inline function).
    depth, cur = 0, []
    for c in code:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == ";" and depth == 0:
            parse_statement("".join(cur), macros, rel, decls)
            cur = []
            continue
        cur.append(c)
        if c == "}" and depth == 0:
            head = "".join(cur)
            head = head[: head.index("{")]
            if re.search(r"\)\s*$", head) and not re.match(r"\s*(typedef|struct|union|enum)\b", head):
                parse_statement(head, macros, rel, decls)
                cur = []
    if "".join(cur).strip():
        raise ValueError("%s: trailing text: %s" % (rel, "".join(cur).strip()[:60]))


def header_decls(include_dir):
    decls = []
    headers = []
    for root, _, files in os.walk(include_dir):
        for f in sorted(files):
            if f.endswith(".h"):
                headers.append(os.path.join(root, f))
    for h in sorted(headers):
        parse_header(h, os.path.relpath(h, include_dir), decls)
    # A name declared twice (a macro in two #if branches) is one entity, and
    # so is a struct with a body and the typedef that names it.
    structs = {d.name for d in decls if d.kind == "struct"}
    seen, unique = set(), []
    for d in decls:
        if d.kind == "typedef" and d.name in structs:
            continue
        if public(d.name.split("::")[-1]) and (d.kind, d.name) not in seen:
            seen.add((d.kind, d.name))
            unique.append(d)
    return unique, len(headers)


# ---------------------------------------------------------------------------
# (b) Documented members in Doxygen's XML
# ---------------------------------------------------------------------------


def text_of(el):
    return "".join(el.itertext()).strip() if el is not None else ""


class Doc:
    def __init__(self):
        self.described = False
        self.params = {}  # name -> has a description
        self.returns = False
        self.threads = False
        self.grouped = False
        self.xml_params = []  # a function's parameters as Doxygen saw them


def read_doc(el, doc):
    brief, detail = el.find("briefdescription"), el.find("detaileddescription")
    if text_of(brief) or text_of(detail):
        doc.described = True
    for item in el.iter("parameteritem"):
        desc = text_of(item.find("parameterdescription"))
        for pn in item.iter("parametername"):
            doc.params[text_of(pn)] = doc.params.get(text_of(pn), False) or bool(desc)
    for ss in el.iter("simplesect"):
        if ss.get("kind") == "return" and text_of(ss):
            doc.returns = True
        if ss.get("kind") == "par" and text_of(ss.find("title")).startswith(THREADS_TITLE):
            doc.threads = True


def xml_docs(xml_dir):
    docs = {}  # (kind, name) -> Doc

    def get(kind, name):
        return docs.setdefault((kind, name), Doc())

    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    for comp in index.findall("compound"):
        root = ET.parse(os.path.join(xml_dir, comp.get("refid") + ".xml")).getroot()
        for cd in root.findall("compounddef"):
            ckind = cd.get("kind")
            cname = text_of(cd.find("compoundname"))
            in_group = ckind == "group"
            if ckind in ("struct", "union"):
                read_doc(cd, get("aggregate", cname))
            if in_group:
                for ic in cd.findall("innerclass"):
                    get("aggregate", text_of(ic)).grouped = True
            for md in cd.iter("memberdef"):
                kind, name = md.get("kind"), text_of(md.find("name"))
                if ckind in ("struct", "union"):
                    key = ("field", cname + "::" + name)
                elif kind == "enum":
                    key = ("enum", name)
                    for ev in md.findall("enumvalue"):
                        evd = get("enumvalue", text_of(ev.find("name")))
                        read_doc(ev, evd)
                        evd.grouped |= in_group
                elif kind == "define":
                    key = ("macro", name)
                elif kind in ("function", "typedef", "variable"):
                    key = (kind, name)
                else:
                    continue
                d = get(*key)
                read_doc(md, d)
                d.grouped |= in_group or ckind in ("struct", "union")
                if kind == "function":
                    names = [p.find("declname") for p in md.findall("param")]
                    d.xml_params = [text_of(n) for n in names if n is not None]
    return docs


def lookup(docs, decl):
    if decl.kind in ("typedef", "struct"):
        # TYPEDEF_HIDES_STRUCT: a typedef of a struct with a body is the struct.
        return docs.get(("aggregate", decl.name)) or docs.get(("typedef", decl.name))
    if decl.kind == "enum":
        return docs.get(("enum", decl.name)) or docs.get(("typedef", decl.name))
    return docs.get((decl.kind, decl.name))


def problems(decl, doc):
    """What the reference lacks for decl (empty when it is documented)."""
    if doc is None:
        return ["not in the reference"]
    if not doc.described:
        return ["no description"]
    out = []
    params = decl.params + [p for p in doc.xml_params if p not in decl.params]
    for p in params:
        if not doc.params.get(p):
            out.append("no @param " + p)
    if decl.returns and not doc.returns:
        out.append("no @return")
    if decl.kind == "function" and not doc.threads:
        out.append("no @threads (%s) paragraph" % THREADS_TITLE)
    if not doc.grouped:
        out.append("in no group")
    return out


def check(include_dir, xml_dir, quiet=False):
    decls, nheaders = header_decls(include_dir)
    docs = xml_docs(xml_dir)
    missing = []
    documented = 0
    for d in decls:
        p = problems(d, lookup(docs, d))
        if p:
            missing.append("%s: %s %s: %s" % (d.where, d.kind, d.name, "; ".join(p)))
        else:
            documented += 1
    # Entities the reference has and the headers do not: the parser missed
    # them, or the XML is stale. Either way the counts would not match.
    known = set()
    for d in decls:
        known.add((d.kind, d.name))
        if d.kind in ("typedef", "struct"):
            known.update({("aggregate", d.name), ("typedef", d.name)})
        if d.kind == "enum":
            known.add(("typedef", d.name))
    extra = sorted(
        "%s %s" % k
        for k, v in docs.items()
        if k not in known
        and v.described
        and public(k[1].split("::")[-1])
        and not k[1].startswith("@")  # an anonymous enum
    )
    if not quiet:
        for m in missing:
            print("undocumented: " + m, file=sys.stderr)
        for e in extra:
            print("in the reference but not found in the headers: " + e, file=sys.stderr)
    kinds = {}
    for d in decls:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    summary = ", ".join("%d %ss" % (v, k) for k, v in sorted(kinds.items()))
    ok = not missing and not extra
    if not quiet:
        stream = sys.stdout if ok else sys.stderr
        print(
            "reference: %d public declarations in %d headers (%s); %d documented in the XML%s"
            % (len(decls), nheaders, summary, documented + 0, "" if ok else " -- FAILED"),
            file=stream,
        )
    return ok, missing, extra


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------

# Each case removes one piece of documentation from a copy of a header and
# names the entity the check must then report: (header, what, entity, arg).
#   doc     the comment before the entity's declaration becomes a plain one
#   param   its @param arg paragraph goes
#   return  its @return paragraph goes
#   threads its @threads paragraph goes
#   var     the @var paragraph of an enumerator generated by a macro goes
#   member  the trailing comment (/**< */) on the member's line goes
#   add     a new function without a comment is declared (Doxygen drops it
#           without a warning: only the header parse sees it)
CASES = [
    ("cfutures.h", "doc", "cf_future_retain", None),
    ("cfutures.h", "param", "cf_future_wait", "timeout"),
    ("cfutures.h", "return", "cf_strerror", None),
    ("cfutures.h", "threads", "cf_err_name", None),
    ("cfutures.h", "var", "CF_EBROKEN", None),
    ("cfutures.h", "member", "cf_executor_stats::submitted", None),
    ("cfutures.h", "doc", "CF_VERSION_MINOR", None),
    ("cfutures/process_pool.h", "member", "CF_START_FORKSERVER", None),
    ("cfutures/bridge.h", "param", "cf_bridge_fn", "status"),
    ("cfutures/semaphore.h", "add", "cf_semaphore_undocumented", None),
]


def doc_span(text, name):
    """The [start, end) of the /** */ comment right before the first
    declaration of name (its first mention outside comments)."""
    code = strip_comments(text)
    m = re.search(r"\b%s\b" % re.escape(name), code)
    if not m:
        raise ValueError("%s is not declared" % name)
    line = code.rfind("\n", 0, m.start()) + 1
    end = text.rfind("*/", 0, line) + 2
    start = text.rfind("/**", 0, end)
    if end < 2 or start < 0 or text[end:line].strip():
        raise ValueError("no comment right before %s" % name)
    return start, end


def drop_paragraph(comment, tag):
    """Removes the paragraph that starts with tag (up to the next @command
    or the end of the comment) from a comment."""
    m = re.search(r"\n\s*\* %s.*?(?=\n\s*\* @|\n\s*\*/)" % tag, comment, re.S)
    if not m:
        raise ValueError("no %s paragraph" % tag)
    return comment[: m.start()] + comment[m.end() :]


def remove_doc(text, what, entity, arg):
    name = entity.split("::")[-1]
    if what == "add":
        tail = text.rfind("#ifdef __cplusplus")
        return text[:tail] + "CF_EXTERN int %s(int x);\n\n" % name + text[tail:]
    if what == "member":
        code = strip_comments(text)
        m = re.search(r"\b%s\b[^\n]*" % re.escape(name), code)
        line = text[m.start() : m.end()]
        stripped = re.sub(r"\s*/\*\*<.*?\*/", "", line)
        if stripped == line:
            raise ValueError("no trailing comment on %s" % name)
        return text[: m.start()] + stripped + text[m.end() :]
    if what == "var":
        var = r"\n \* @var %s\n.*?(?=\n \* @var|\n \*/)" % re.escape(name)
        m = re.search(var, text, re.S)
        if not m:
            raise ValueError("no @var %s" % name)
        return text[: m.start()] + text[m.end() :]
    start, end = doc_span(text, name)
    comment = text[start:end]
    if what == "doc":
        comment = "/*" + comment[3:]
    else:
        tag = {
            "param": r"@param(\[\w+\])? %s\b" % re.escape(arg or ""),
            "return": "@return",
            "threads": "@threads",
        }[what]
        comment = drop_paragraph(comment, tag)
    return text[:start] + comment + text[end:]


def run_doxygen(doxyfile, headers, out):
    with open(doxyfile, encoding="utf-8") as f:
        conf = f.read()
    # Later settings win: the copy only, XML only, warnings not fatal.
    conf += "\nINPUT = %s\nOUTPUT_DIRECTORY = %s\n" % (headers, out)
    conf += "WARN_AS_ERROR = NO\nWARNINGS = NO\nGENERATE_HTML = NO\n"
    conf += "USE_MDFILE_AS_MAINPAGE =\nQUIET = YES\n"
    subprocess.run(
        ["doxygen", "-"],
        input=conf,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return os.path.join(out, "xml")


def self_test(include_dir, doxyfile):
    tmp = tempfile.mkdtemp(prefix="check_reference.")
    failures = 0
    try:
        inc = os.path.join(tmp, "include")
        shutil.copytree(include_dir, inc)
        xml = run_doxygen(doxyfile, inc, os.path.join(tmp, "pristine"))
        ok, missing, extra = check(inc, xml, quiet=True)
        if not ok:
            print("FAIL: the unchanged headers do not pass:", file=sys.stderr)
            for m in missing + extra:
                print("  " + m, file=sys.stderr)
            return 1
        for n, (header, what, entity, arg) in enumerate(CASES):
            case = os.path.join(tmp, "case%d" % n)
            shutil.copytree(include_dir, os.path.join(case, "include"))
            path = os.path.join(case, "include", header)
            text = open(path, encoding="utf-8").read()
            try:
                changed = remove_doc(text, what, entity, arg)
            except ValueError as e:
                print("FAIL: case %d (%s %s in %s): %s" % (n, what, entity, header, e), file=sys.stderr)
                failures += 1
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(changed)
            xml = run_doxygen(doxyfile, os.path.join(case, "include"), os.path.join(case, "out"))
            ok, missing, _ = check(os.path.join(case, "include"), xml, quiet=True)
            named = [m for m in missing if (" %s:" % entity) in m]
            if ok or not named:
                print(
                    "FAIL: case %s %s: the check %s" % (what, entity, "passed" if ok else "did not name it"),
                    file=sys.stderr,
                )
                failures += 1
            else:
                print("self-test (%s %s): the check fails: %s" % (what, entity, named[0]))
    finally:
        shutil.rmtree(tmp)
    if failures:
        return 1
    print("self-test passed: %d cases, each one caught" % len(CASES))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--self-test":
        return self_test(argv[2], argv[3])
    if len(argv) == 3:
        ok, _, _ = check(argv[1], argv[2])
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
