#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz_wire (tests/fuzz/corpus/wire/): valid
frames of every operation, and the malformed ones the decoder must refuse.
Run from anywhere; the files are checked in, this only documents them."""
import os
import struct

MAGIC, VERSION = 0x57464321, 1
TASK, RESULT, READY, INIT_FAIL, MARKS = 1, 2, 3, 4, 5
SHM, NEWFD, RETIRE, SKIPPED = 1, 2, 4, 8


def hdr(op, flags=0, err=0, msg_len=0, id=1, length=0, aux=0, region=0,
        magic=MAGIC, version=VERSION):
    return struct.pack("<IBBHiIQQQQ", magic, version, op, flags, err,
                       msg_len, id, length, aux, region)


seeds = {
    "task_inline": hdr(TASK, length=5, aux=0x401000) + b"hello",
    "task_empty": hdr(TASK, aux=0x401000),
    "task_shm": hdr(TASK, SHM | NEWFD | (2 << 8), length=100000,
                    aux=0x401000, region=1 << 20),
    "result_ok": hdr(RESULT, id=7, length=3) + b"abc",
    "result_msg": hdr(RESULT, err=-4005, msg_len=13, id=8) + b"it went wrong",
    "result_retire": hdr(RESULT, RETIRE, id=9, length=1) + b"z",
    "result_shm": hdr(RESULT, SHM | (1 << 8), id=3, length=4000,
                      region=4096 + 64),
    "result_skipped": hdr(RESULT, SKIPPED, id=4),
    "result_skipped_bad": hdr(RESULT, SKIPPED | RETIRE, err=-125, id=4),
    "marks": hdr(MARKS, SHM | NEWFD, id=0, aux=8192, region=4096),
    "marks_no_fd": hdr(MARKS, SHM, id=0, region=4096),
    "ready": hdr(READY),
    "init_fail": hdr(INIT_FAIL, err=-22, msg_len=4) + b"nope",
    "two_frames": hdr(READY) + hdr(RESULT, id=2, length=2) + b"ok",
    "truncated_header": hdr(RESULT, length=3)[:30],
    "truncated_payload": hdr(RESULT, length=300) + b"x" * 10,
    "bad_magic": hdr(READY, magic=0x12345678),
    "bad_version": hdr(READY, version=9),
    "unknown_op": hdr(77),
    "len_2_63": hdr(RESULT, length=1 << 63),
    "len_max": hdr(TASK, length=(1 << 64) - 1, aux=1),
    "msg_too_long": hdr(RESULT, msg_len=4097) + b"m" * 4097,
    "shm_region_small": hdr(RESULT, SHM, length=10, region=32),
    "bad_flags": hdr(READY, flags=0xffff),
    "positive_err": hdr(RESULT, err=5),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "wire")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
