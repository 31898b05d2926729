# SPDX-License-Identifier: MIT
# Lets Doxygen read the headers' plain comment style: a comment that
# follows a member or an enumerator on its line documents it (/**< ... */),
# and an indented comment inside a struct or enum documents the member that
# follows it (/** ... */). Top-level comments are left alone.
s|\([;,]\)\([[:space:]]*\)/\*\([^*]\)|\1\2/**<\3|
s|^\([[:space:]][[:space:]]*\)/\*\([^*]\)|\1/**\2|
