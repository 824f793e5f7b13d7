"""Generate ``wasm/opcodes.py``: one named constant per WebAssembly opcode and the opcode table.

The instruction set is data (``OPCODE_TABLE`` below); the module the rest of pyjitwasm reads
is ordinary checked-in Python, so a reader, an IDE and the type checker find every opcode
name (``I32_ADD``) where it is defined. To add or change an opcode, edit the table here and
run, from the checkout root::

    .venv/bin/python tools/gen_wasm_opcodes.py

``tests/wasm/test_opcodes_generated.py`` regenerates the module in memory and fails while
the checked-in file differs (``--check`` does the same from the command line). This script
imports nothing from pyjitwasm, so it still runs when the generated file is broken.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "wasm" / "opcodes.py"
LINE_LENGTH = 100

# One opcode a line: code, text-format name, immediate kind (an ``Imm`` member), operand
# signature and, for memory instructions, the access size in bytes. A signature is
# ``params:results`` in type letters (i32 i, i64 I, f32 f, f64 F, v128 v), the last param
# on top of the stack; ``-`` marks an instruction with its own typing rule. Prefixed
# opcodes are ``(prefix << 12) | subopcode``. ``#`` lines start a section of the output.
OPCODE_TABLE = """
# Control instructions
0x00     unreachable                    NONE          -
0x01     nop                            NONE          -
0x02     block                          BLOCK         -
0x03     loop                           BLOCK         -
0x04     if                             BLOCK         -
0x05     else                           NONE          -
0x0B     end                            NONE          -
0x0C     br                             LABEL         -
0x0D     br_if                          LABEL         -
0x0E     br_table                       BR_TABLE      -
0x0F     return                         NONE          -
0x10     call                           FUNC          -
0x11     call_indirect                  CALL_INDIRECT -
0x12     return_call                    FUNC          -
0x13     return_call_indirect           CALL_INDIRECT -

# Parametric instructions
0x1A     drop                           NONE          -
0x1B     select                         NONE          -
0x1C     select_t                       SELECT_T      -

# Variable instructions
0x20     local.get                      LOCAL         -
0x21     local.set                      LOCAL         -
0x22     local.tee                      LOCAL         -
0x23     global.get                     GLOBAL        -
0x24     global.set                     GLOBAL        -

# Table instructions
0x25     table.get                      TABLE         -
0x26     table.set                      TABLE         -

# Memory instructions
0x28     i32.load                       MEMARG        :i    4
0x29     i64.load                       MEMARG        :I    8
0x2A     f32.load                       MEMARG        :f    4
0x2B     f64.load                       MEMARG        :F    8
0x2C     i32.load8_s                    MEMARG        :i    1
0x2D     i32.load8_u                    MEMARG        :i    1
0x2E     i32.load16_s                   MEMARG        :i    2
0x2F     i32.load16_u                   MEMARG        :i    2
0x30     i64.load8_s                    MEMARG        :I    1
0x31     i64.load8_u                    MEMARG        :I    1
0x32     i64.load16_s                   MEMARG        :I    2
0x33     i64.load16_u                   MEMARG        :I    2
0x34     i64.load32_s                   MEMARG        :I    4
0x35     i64.load32_u                   MEMARG        :I    4
0x36     i32.store                      MEMARG        i:    4
0x37     i64.store                      MEMARG        I:    8
0x38     f32.store                      MEMARG        f:    4
0x39     f64.store                      MEMARG        F:    8
0x3A     i32.store8                     MEMARG        i:    1
0x3B     i32.store16                    MEMARG        i:    2
0x3C     i64.store8                     MEMARG        I:    1
0x3D     i64.store16                    MEMARG        I:    2
0x3E     i64.store32                    MEMARG        I:    4
0x3F     memory.size                    MEM           -
0x40     memory.grow                    MEM           -

# Numeric instructions: constants
0x41     i32.const                      I32           :i
0x42     i64.const                      I64           :I
0x43     f32.const                      F32           :f
0x44     f64.const                      F64           :F

# Numeric instructions: comparisons
0x45     i32.eqz                        NONE          i:i
0x46     i32.eq                         NONE          ii:i
0x47     i32.ne                         NONE          ii:i
0x48     i32.lt_s                       NONE          ii:i
0x49     i32.lt_u                       NONE          ii:i
0x4A     i32.gt_s                       NONE          ii:i
0x4B     i32.gt_u                       NONE          ii:i
0x4C     i32.le_s                       NONE          ii:i
0x4D     i32.le_u                       NONE          ii:i
0x4E     i32.ge_s                       NONE          ii:i
0x4F     i32.ge_u                       NONE          ii:i
0x50     i64.eqz                        NONE          I:i
0x51     i64.eq                         NONE          II:i
0x52     i64.ne                         NONE          II:i
0x53     i64.lt_s                       NONE          II:i
0x54     i64.lt_u                       NONE          II:i
0x55     i64.gt_s                       NONE          II:i
0x56     i64.gt_u                       NONE          II:i
0x57     i64.le_s                       NONE          II:i
0x58     i64.le_u                       NONE          II:i
0x59     i64.ge_s                       NONE          II:i
0x5A     i64.ge_u                       NONE          II:i
0x5B     f32.eq                         NONE          ff:i
0x5C     f32.ne                         NONE          ff:i
0x5D     f32.lt                         NONE          ff:i
0x5E     f32.gt                         NONE          ff:i
0x5F     f32.le                         NONE          ff:i
0x60     f32.ge                         NONE          ff:i
0x61     f64.eq                         NONE          FF:i
0x62     f64.ne                         NONE          FF:i
0x63     f64.lt                         NONE          FF:i
0x64     f64.gt                         NONE          FF:i
0x65     f64.le                         NONE          FF:i
0x66     f64.ge                         NONE          FF:i

# Numeric instructions: arithmetic
0x67     i32.clz                        NONE          i:i
0x68     i32.ctz                        NONE          i:i
0x69     i32.popcnt                     NONE          i:i
0x6A     i32.add                        NONE          ii:i
0x6B     i32.sub                        NONE          ii:i
0x6C     i32.mul                        NONE          ii:i
0x6D     i32.div_s                      NONE          ii:i
0x6E     i32.div_u                      NONE          ii:i
0x6F     i32.rem_s                      NONE          ii:i
0x70     i32.rem_u                      NONE          ii:i
0x71     i32.and                        NONE          ii:i
0x72     i32.or                         NONE          ii:i
0x73     i32.xor                        NONE          ii:i
0x74     i32.shl                        NONE          ii:i
0x75     i32.shr_s                      NONE          ii:i
0x76     i32.shr_u                      NONE          ii:i
0x77     i32.rotl                       NONE          ii:i
0x78     i32.rotr                       NONE          ii:i
0x79     i64.clz                        NONE          I:I
0x7A     i64.ctz                        NONE          I:I
0x7B     i64.popcnt                     NONE          I:I
0x7C     i64.add                        NONE          II:I
0x7D     i64.sub                        NONE          II:I
0x7E     i64.mul                        NONE          II:I
0x7F     i64.div_s                      NONE          II:I
0x80     i64.div_u                      NONE          II:I
0x81     i64.rem_s                      NONE          II:I
0x82     i64.rem_u                      NONE          II:I
0x83     i64.and                        NONE          II:I
0x84     i64.or                         NONE          II:I
0x85     i64.xor                        NONE          II:I
0x86     i64.shl                        NONE          II:I
0x87     i64.shr_s                      NONE          II:I
0x88     i64.shr_u                      NONE          II:I
0x89     i64.rotl                       NONE          II:I
0x8A     i64.rotr                       NONE          II:I
0x8B     f32.abs                        NONE          f:f
0x8C     f32.neg                        NONE          f:f
0x8D     f32.ceil                       NONE          f:f
0x8E     f32.floor                      NONE          f:f
0x8F     f32.trunc                      NONE          f:f
0x90     f32.nearest                    NONE          f:f
0x91     f32.sqrt                       NONE          f:f
0x92     f32.add                        NONE          ff:f
0x93     f32.sub                        NONE          ff:f
0x94     f32.mul                        NONE          ff:f
0x95     f32.div                        NONE          ff:f
0x96     f32.min                        NONE          ff:f
0x97     f32.max                        NONE          ff:f
0x98     f32.copysign                   NONE          ff:f
0x99     f64.abs                        NONE          F:F
0x9A     f64.neg                        NONE          F:F
0x9B     f64.ceil                       NONE          F:F
0x9C     f64.floor                      NONE          F:F
0x9D     f64.trunc                      NONE          F:F
0x9E     f64.nearest                    NONE          F:F
0x9F     f64.sqrt                       NONE          F:F
0xA0     f64.add                        NONE          FF:F
0xA1     f64.sub                        NONE          FF:F
0xA2     f64.mul                        NONE          FF:F
0xA3     f64.div                        NONE          FF:F
0xA4     f64.min                        NONE          FF:F
0xA5     f64.max                        NONE          FF:F
0xA6     f64.copysign                   NONE          FF:F

# Numeric instructions: conversions
0xA7     i32.wrap_i64                   NONE          I:i
0xA8     i32.trunc_f32_s                NONE          f:i
0xA9     i32.trunc_f32_u                NONE          f:i
0xAA     i32.trunc_f64_s                NONE          F:i
0xAB     i32.trunc_f64_u                NONE          F:i
0xAC     i64.extend_i32_s               NONE          i:I
0xAD     i64.extend_i32_u               NONE          i:I
0xAE     i64.trunc_f32_s                NONE          f:I
0xAF     i64.trunc_f32_u                NONE          f:I
0xB0     i64.trunc_f64_s                NONE          F:I
0xB1     i64.trunc_f64_u                NONE          F:I
0xB2     f32.convert_i32_s              NONE          i:f
0xB3     f32.convert_i32_u              NONE          i:f
0xB4     f32.convert_i64_s              NONE          I:f
0xB5     f32.convert_i64_u              NONE          I:f
0xB6     f32.demote_f64                 NONE          F:f
0xB7     f64.convert_i32_s              NONE          i:F
0xB8     f64.convert_i32_u              NONE          i:F
0xB9     f64.convert_i64_s              NONE          I:F
0xBA     f64.convert_i64_u              NONE          I:F
0xBB     f64.promote_f32                NONE          f:F
0xBC     i32.reinterpret_f32            NONE          f:i
0xBD     i64.reinterpret_f64            NONE          F:I
0xBE     f32.reinterpret_i32            NONE          i:f
0xBF     f64.reinterpret_i64            NONE          I:F

# Numeric instructions: sign extension
0xC0     i32.extend8_s                  NONE          i:i
0xC1     i32.extend16_s                 NONE          i:i
0xC2     i64.extend8_s                  NONE          I:I
0xC3     i64.extend16_s                 NONE          I:I
0xC4     i64.extend32_s                 NONE          I:I

# Reference instructions
0xD0     ref.null                       HEAPTYPE      -
0xD1     ref.is_null                    NONE          -
0xD2     ref.func                       FUNC          -

# 0xFC prefix: saturating truncation
0xFC000  i32.trunc_sat_f32_s            NONE          f:i
0xFC001  i32.trunc_sat_f32_u            NONE          f:i
0xFC002  i32.trunc_sat_f64_s            NONE          F:i
0xFC003  i32.trunc_sat_f64_u            NONE          F:i
0xFC004  i64.trunc_sat_f32_s            NONE          f:I
0xFC005  i64.trunc_sat_f32_u            NONE          f:I
0xFC006  i64.trunc_sat_f64_s            NONE          F:I
0xFC007  i64.trunc_sat_f64_u            NONE          F:I

# 0xFC prefix: bulk memory and tables
0xFC008  memory.init                    MEM_INIT      -
0xFC009  data.drop                      DATA          -
0xFC00A  memory.copy                    MEM_COPY      -
0xFC00B  memory.fill                    MEM           -
0xFC00C  table.init                     TABLE_INIT    -
0xFC00D  elem.drop                      ELEM          -
0xFC00E  table.copy                     TABLE_COPY    -
0xFC00F  table.grow                     TABLE         -
0xFC010  table.size                     TABLE         -
0xFC011  table.fill                     TABLE         -

# 0xFD prefix: vector instructions
0xFD000  v128.load                      MEMARG        :v    16
0xFD001  v128.load8x8_s                 MEMARG        :v    8
0xFD002  v128.load8x8_u                 MEMARG        :v    8
0xFD003  v128.load16x4_s                MEMARG        :v    8
0xFD004  v128.load16x4_u                MEMARG        :v    8
0xFD005  v128.load32x2_s                MEMARG        :v    8
0xFD006  v128.load32x2_u                MEMARG        :v    8
0xFD007  v128.load8_splat               MEMARG        :v    1
0xFD008  v128.load16_splat              MEMARG        :v    2
0xFD009  v128.load32_splat              MEMARG        :v    4
0xFD00A  v128.load64_splat              MEMARG        :v    8
0xFD00B  v128.store                     MEMARG        v:    16
0xFD00C  v128.const                     V128          :v
0xFD00D  i8x16.shuffle                  SHUFFLE       vv:v
0xFD00E  i8x16.swizzle                  NONE          vv:v
0xFD00F  i8x16.splat                    NONE          i:v
0xFD010  i16x8.splat                    NONE          i:v
0xFD011  i32x4.splat                    NONE          i:v
0xFD012  i64x2.splat                    NONE          I:v
0xFD013  f32x4.splat                    NONE          f:v
0xFD014  f64x2.splat                    NONE          F:v
0xFD015  i8x16.extract_lane_s           LANE          v:i
0xFD016  i8x16.extract_lane_u           LANE          v:i
0xFD017  i8x16.replace_lane             LANE          vi:v
0xFD018  i16x8.extract_lane_s           LANE          v:i
0xFD019  i16x8.extract_lane_u           LANE          v:i
0xFD01A  i16x8.replace_lane             LANE          vi:v
0xFD01B  i32x4.extract_lane             LANE          v:i
0xFD01C  i32x4.replace_lane             LANE          vi:v
0xFD01D  i64x2.extract_lane             LANE          v:I
0xFD01E  i64x2.replace_lane             LANE          vI:v
0xFD01F  f32x4.extract_lane             LANE          v:f
0xFD020  f32x4.replace_lane             LANE          vf:v
0xFD021  f64x2.extract_lane             LANE          v:F
0xFD022  f64x2.replace_lane             LANE          vF:v
0xFD023  i8x16.eq                       NONE          vv:v
0xFD024  i8x16.ne                       NONE          vv:v
0xFD025  i8x16.lt_s                     NONE          vv:v
0xFD026  i8x16.lt_u                     NONE          vv:v
0xFD027  i8x16.gt_s                     NONE          vv:v
0xFD028  i8x16.gt_u                     NONE          vv:v
0xFD029  i8x16.le_s                     NONE          vv:v
0xFD02A  i8x16.le_u                     NONE          vv:v
0xFD02B  i8x16.ge_s                     NONE          vv:v
0xFD02C  i8x16.ge_u                     NONE          vv:v
0xFD02D  i16x8.eq                       NONE          vv:v
0xFD02E  i16x8.ne                       NONE          vv:v
0xFD02F  i16x8.lt_s                     NONE          vv:v
0xFD030  i16x8.lt_u                     NONE          vv:v
0xFD031  i16x8.gt_s                     NONE          vv:v
0xFD032  i16x8.gt_u                     NONE          vv:v
0xFD033  i16x8.le_s                     NONE          vv:v
0xFD034  i16x8.le_u                     NONE          vv:v
0xFD035  i16x8.ge_s                     NONE          vv:v
0xFD036  i16x8.ge_u                     NONE          vv:v
0xFD037  i32x4.eq                       NONE          vv:v
0xFD038  i32x4.ne                       NONE          vv:v
0xFD039  i32x4.lt_s                     NONE          vv:v
0xFD03A  i32x4.lt_u                     NONE          vv:v
0xFD03B  i32x4.gt_s                     NONE          vv:v
0xFD03C  i32x4.gt_u                     NONE          vv:v
0xFD03D  i32x4.le_s                     NONE          vv:v
0xFD03E  i32x4.le_u                     NONE          vv:v
0xFD03F  i32x4.ge_s                     NONE          vv:v
0xFD040  i32x4.ge_u                     NONE          vv:v
0xFD041  f32x4.eq                       NONE          vv:v
0xFD042  f32x4.ne                       NONE          vv:v
0xFD043  f32x4.lt                       NONE          vv:v
0xFD044  f32x4.gt                       NONE          vv:v
0xFD045  f32x4.le                       NONE          vv:v
0xFD046  f32x4.ge                       NONE          vv:v
0xFD047  f64x2.eq                       NONE          vv:v
0xFD048  f64x2.ne                       NONE          vv:v
0xFD049  f64x2.lt                       NONE          vv:v
0xFD04A  f64x2.gt                       NONE          vv:v
0xFD04B  f64x2.le                       NONE          vv:v
0xFD04C  f64x2.ge                       NONE          vv:v
0xFD04D  v128.not                       NONE          v:v
0xFD04E  v128.and                       NONE          vv:v
0xFD04F  v128.andnot                    NONE          vv:v
0xFD050  v128.or                        NONE          vv:v
0xFD051  v128.xor                       NONE          vv:v
0xFD052  v128.bitselect                 NONE          vvv:v
0xFD053  v128.any_true                  NONE          v:i
0xFD054  v128.load8_lane                MEMARG_LANE   v:v   1
0xFD055  v128.load16_lane               MEMARG_LANE   v:v   2
0xFD056  v128.load32_lane               MEMARG_LANE   v:v   4
0xFD057  v128.load64_lane               MEMARG_LANE   v:v   8
0xFD058  v128.store8_lane               MEMARG_LANE   v:    1
0xFD059  v128.store16_lane              MEMARG_LANE   v:    2
0xFD05A  v128.store32_lane              MEMARG_LANE   v:    4
0xFD05B  v128.store64_lane              MEMARG_LANE   v:    8
0xFD05C  v128.load32_zero               MEMARG        :v    4
0xFD05D  v128.load64_zero               MEMARG        :v    8
0xFD05E  f32x4.demote_f64x2_zero        NONE          v:v
0xFD05F  f64x2.promote_low_f32x4        NONE          v:v
0xFD060  i8x16.abs                      NONE          v:v
0xFD061  i8x16.neg                      NONE          v:v
0xFD062  i8x16.popcnt                   NONE          v:v
0xFD063  i8x16.all_true                 NONE          v:i
0xFD064  i8x16.bitmask                  NONE          v:i
0xFD065  i8x16.narrow_i16x8_s           NONE          vv:v
0xFD066  i8x16.narrow_i16x8_u           NONE          vv:v
0xFD067  f32x4.ceil                     NONE          v:v
0xFD068  f32x4.floor                    NONE          v:v
0xFD069  f32x4.trunc                    NONE          v:v
0xFD06A  f32x4.nearest                  NONE          v:v
0xFD06B  i8x16.shl                      NONE          vi:v
0xFD06C  i8x16.shr_s                    NONE          vi:v
0xFD06D  i8x16.shr_u                    NONE          vi:v
0xFD06E  i8x16.add                      NONE          vv:v
0xFD06F  i8x16.add_sat_s                NONE          vv:v
0xFD070  i8x16.add_sat_u                NONE          vv:v
0xFD071  i8x16.sub                      NONE          vv:v
0xFD072  i8x16.sub_sat_s                NONE          vv:v
0xFD073  i8x16.sub_sat_u                NONE          vv:v
0xFD074  f64x2.ceil                     NONE          v:v
0xFD075  f64x2.floor                    NONE          v:v
0xFD076  i8x16.min_s                    NONE          vv:v
0xFD077  i8x16.min_u                    NONE          vv:v
0xFD078  i8x16.max_s                    NONE          vv:v
0xFD079  i8x16.max_u                    NONE          vv:v
0xFD07A  f64x2.trunc                    NONE          v:v
0xFD07B  i8x16.avgr_u                   NONE          vv:v
0xFD07C  i16x8.extadd_pairwise_i8x16_s  NONE          v:v
0xFD07D  i16x8.extadd_pairwise_i8x16_u  NONE          v:v
0xFD07E  i32x4.extadd_pairwise_i16x8_s  NONE          v:v
0xFD07F  i32x4.extadd_pairwise_i16x8_u  NONE          v:v
0xFD080  i16x8.abs                      NONE          v:v
0xFD081  i16x8.neg                      NONE          v:v
0xFD082  i16x8.q15mulr_sat_s            NONE          vv:v
0xFD083  i16x8.all_true                 NONE          v:i
0xFD084  i16x8.bitmask                  NONE          v:i
0xFD085  i16x8.narrow_i32x4_s           NONE          vv:v
0xFD086  i16x8.narrow_i32x4_u           NONE          vv:v
0xFD087  i16x8.extend_low_i8x16_s       NONE          v:v
0xFD088  i16x8.extend_high_i8x16_s      NONE          v:v
0xFD089  i16x8.extend_low_i8x16_u       NONE          v:v
0xFD08A  i16x8.extend_high_i8x16_u      NONE          v:v
0xFD08B  i16x8.shl                      NONE          vi:v
0xFD08C  i16x8.shr_s                    NONE          vi:v
0xFD08D  i16x8.shr_u                    NONE          vi:v
0xFD08E  i16x8.add                      NONE          vv:v
0xFD08F  i16x8.add_sat_s                NONE          vv:v
0xFD090  i16x8.add_sat_u                NONE          vv:v
0xFD091  i16x8.sub                      NONE          vv:v
0xFD092  i16x8.sub_sat_s                NONE          vv:v
0xFD093  i16x8.sub_sat_u                NONE          vv:v
0xFD094  f64x2.nearest                  NONE          v:v
0xFD095  i16x8.mul                      NONE          vv:v
0xFD096  i16x8.min_s                    NONE          vv:v
0xFD097  i16x8.min_u                    NONE          vv:v
0xFD098  i16x8.max_s                    NONE          vv:v
0xFD099  i16x8.max_u                    NONE          vv:v
0xFD09B  i16x8.avgr_u                   NONE          vv:v
0xFD09C  i16x8.extmul_low_i8x16_s       NONE          vv:v
0xFD09D  i16x8.extmul_high_i8x16_s      NONE          vv:v
0xFD09E  i16x8.extmul_low_i8x16_u       NONE          vv:v
0xFD09F  i16x8.extmul_high_i8x16_u      NONE          vv:v
0xFD0A0  i32x4.abs                      NONE          v:v
0xFD0A1  i32x4.neg                      NONE          v:v
0xFD0A3  i32x4.all_true                 NONE          v:i
0xFD0A4  i32x4.bitmask                  NONE          v:i
0xFD0A7  i32x4.extend_low_i16x8_s       NONE          v:v
0xFD0A8  i32x4.extend_high_i16x8_s      NONE          v:v
0xFD0A9  i32x4.extend_low_i16x8_u       NONE          v:v
0xFD0AA  i32x4.extend_high_i16x8_u      NONE          v:v
0xFD0AB  i32x4.shl                      NONE          vi:v
0xFD0AC  i32x4.shr_s                    NONE          vi:v
0xFD0AD  i32x4.shr_u                    NONE          vi:v
0xFD0AE  i32x4.add                      NONE          vv:v
0xFD0B1  i32x4.sub                      NONE          vv:v
0xFD0B5  i32x4.mul                      NONE          vv:v
0xFD0B6  i32x4.min_s                    NONE          vv:v
0xFD0B7  i32x4.min_u                    NONE          vv:v
0xFD0B8  i32x4.max_s                    NONE          vv:v
0xFD0B9  i32x4.max_u                    NONE          vv:v
0xFD0BA  i32x4.dot_i16x8_s              NONE          vv:v
0xFD0BC  i32x4.extmul_low_i16x8_s       NONE          vv:v
0xFD0BD  i32x4.extmul_high_i16x8_s      NONE          vv:v
0xFD0BE  i32x4.extmul_low_i16x8_u       NONE          vv:v
0xFD0BF  i32x4.extmul_high_i16x8_u      NONE          vv:v
0xFD0C0  i64x2.abs                      NONE          v:v
0xFD0C1  i64x2.neg                      NONE          v:v
0xFD0C3  i64x2.all_true                 NONE          v:i
0xFD0C4  i64x2.bitmask                  NONE          v:i
0xFD0C7  i64x2.extend_low_i32x4_s       NONE          v:v
0xFD0C8  i64x2.extend_high_i32x4_s      NONE          v:v
0xFD0C9  i64x2.extend_low_i32x4_u       NONE          v:v
0xFD0CA  i64x2.extend_high_i32x4_u      NONE          v:v
0xFD0CB  i64x2.shl                      NONE          vi:v
0xFD0CC  i64x2.shr_s                    NONE          vi:v
0xFD0CD  i64x2.shr_u                    NONE          vi:v
0xFD0CE  i64x2.add                      NONE          vv:v
0xFD0D1  i64x2.sub                      NONE          vv:v
0xFD0D5  i64x2.mul                      NONE          vv:v
0xFD0D6  i64x2.eq                       NONE          vv:v
0xFD0D7  i64x2.ne                       NONE          vv:v
0xFD0D8  i64x2.lt_s                     NONE          vv:v
0xFD0D9  i64x2.gt_s                     NONE          vv:v
0xFD0DA  i64x2.le_s                     NONE          vv:v
0xFD0DB  i64x2.ge_s                     NONE          vv:v
0xFD0DC  i64x2.extmul_low_i32x4_s       NONE          vv:v
0xFD0DD  i64x2.extmul_high_i32x4_s      NONE          vv:v
0xFD0DE  i64x2.extmul_low_i32x4_u       NONE          vv:v
0xFD0DF  i64x2.extmul_high_i32x4_u      NONE          vv:v
0xFD0E0  f32x4.abs                      NONE          v:v
0xFD0E1  f32x4.neg                      NONE          v:v
0xFD0E3  f32x4.sqrt                     NONE          v:v
0xFD0E4  f32x4.add                      NONE          vv:v
0xFD0E5  f32x4.sub                      NONE          vv:v
0xFD0E6  f32x4.mul                      NONE          vv:v
0xFD0E7  f32x4.div                      NONE          vv:v
0xFD0E8  f32x4.min                      NONE          vv:v
0xFD0E9  f32x4.max                      NONE          vv:v
0xFD0EA  f32x4.pmin                     NONE          vv:v
0xFD0EB  f32x4.pmax                     NONE          vv:v
0xFD0EC  f64x2.abs                      NONE          v:v
0xFD0ED  f64x2.neg                      NONE          v:v
0xFD0EF  f64x2.sqrt                     NONE          v:v
0xFD0F0  f64x2.add                      NONE          vv:v
0xFD0F1  f64x2.sub                      NONE          vv:v
0xFD0F2  f64x2.mul                      NONE          vv:v
0xFD0F3  f64x2.div                      NONE          vv:v
0xFD0F4  f64x2.min                      NONE          vv:v
0xFD0F5  f64x2.max                      NONE          vv:v
0xFD0F6  f64x2.pmin                     NONE          vv:v
0xFD0F7  f64x2.pmax                     NONE          vv:v
0xFD0F8  i32x4.trunc_sat_f32x4_s        NONE          v:v
0xFD0F9  i32x4.trunc_sat_f32x4_u        NONE          v:v
0xFD0FA  f32x4.convert_i32x4_s          NONE          v:v
0xFD0FB  f32x4.convert_i32x4_u          NONE          v:v
0xFD0FC  i32x4.trunc_sat_f64x2_s_zero   NONE          v:v
0xFD0FD  i32x4.trunc_sat_f64x2_u_zero   NONE          v:v
0xFD0FE  f64x2.convert_low_i32x4_s      NONE          v:v
0xFD0FF  f64x2.convert_low_i32x4_u      NONE          v:v

# 0xFD prefix: relaxed SIMD (enabled by Features.relaxed_simd)
0xFD100  i8x16.relaxed_swizzle                NONE          vv:v
0xFD101  i32x4.relaxed_trunc_f32x4_s          NONE          v:v
0xFD102  i32x4.relaxed_trunc_f32x4_u          NONE          v:v
0xFD103  i32x4.relaxed_trunc_f64x2_s_zero     NONE          v:v
0xFD104  i32x4.relaxed_trunc_f64x2_u_zero     NONE          v:v
0xFD105  f32x4.relaxed_madd                   NONE          vvv:v
0xFD106  f32x4.relaxed_nmadd                  NONE          vvv:v
0xFD107  f64x2.relaxed_madd                   NONE          vvv:v
0xFD108  f64x2.relaxed_nmadd                  NONE          vvv:v
0xFD109  i8x16.relaxed_laneselect             NONE          vvv:v
0xFD10A  i16x8.relaxed_laneselect             NONE          vvv:v
0xFD10B  i32x4.relaxed_laneselect             NONE          vvv:v
0xFD10C  i64x2.relaxed_laneselect             NONE          vvv:v
0xFD10D  f32x4.relaxed_min                    NONE          vv:v
0xFD10E  f32x4.relaxed_max                    NONE          vv:v
0xFD10F  f64x2.relaxed_min                    NONE          vv:v
0xFD110  f64x2.relaxed_max                    NONE          vv:v
0xFD111  i16x8.relaxed_q15mulr_s              NONE          vv:v
0xFD112  i16x8.relaxed_dot_i8x16_i7x16_s      NONE          vv:v
0xFD113  i32x4.relaxed_dot_i8x16_i7x16_add_s  NONE          vvv:v
"""

# Opcodes of proposals pyjitwasm does not implement, so the decoder can name the proposal
# instead of reporting an unknown opcode: (opcode, proposal, instruction).
UNSUPPORTED_OPCODES: list[tuple[int, str, str]] = [
    (0x06, "exception handling", "try (legacy)"),
    (0x07, "exception handling", "catch (legacy)"),
    (0x08, "exception handling", "throw"),
    (0x09, "exception handling", "rethrow (legacy)"),
    (0x0A, "exception handling", "throw_ref"),
    (0x14, "typed function references", "call_ref"),
    (0x15, "typed function references", "return_call_ref"),
    (0x18, "exception handling", "delegate (legacy)"),
    (0x19, "exception handling", "catch_all (legacy)"),
    (0x1F, "exception handling", "try_table"),
    (0xD3, "garbage collection", "ref.eq"),
    (0xD4, "typed function references", "ref.as_non_null"),
    (0xD5, "typed function references", "br_on_null"),
    (0xD6, "typed function references", "br_on_non_null"),
]
# Ranges of unsupported opcodes: (first, last + 1, proposal, what the range holds).
UNSUPPORTED_OPCODE_RANGES: list[tuple[int, int, str, str]] = [
    (0xE0, 0xE7, "stack switching", "cont.new ... switch"),
]
UNSUPPORTED_PREFIXES: list[tuple[int, str]] = [
    (0xFB, "garbage collection"),
    (0xFE, "threads"),
]
UNSUPPORTED_FC_RANGES: list[tuple[int, int, str, str]] = [
    (0x12, 0x13, "memory control", "memory.discard"),
    (0x13, 0x17, "wide arithmetic", "i64.add128 ... i64.mul_wide_u"),
]
UNSUPPORTED_FD_RANGES: list[tuple[int, int, str, str]] = []
# Opcodes of proposals pyjitwasm implements behind a ``wasm.features.Features`` flag:
# (first, last + 1, the flag's attribute name, proposal, what the range holds).
FEATURE_GATED_RANGES: list[tuple[int, int, str, str, str]] = [
    (0xFD100, 0xFD114, "relaxed_simd", "relaxed SIMD", "i8x16.relaxed_swizzle ..."),
]

_IMM_KINDS = frozenset(
    "NONE BLOCK LABEL BR_TABLE FUNC CALL_INDIRECT LOCAL GLOBAL TABLE TABLE_COPY TABLE_INIT "
    "ELEM MEMARG MEM MEM_COPY MEM_INIT DATA I32 I64 F32 F64 V128 SHUFFLE LANE MEMARG_LANE "
    "SELECT_T HEAPTYPE".split()
)
_TYPE_LETTERS = {"i": "I32", "I": "I64", "f": "F32", "F": "F64", "v": "V128"}
_PREFIXES = {0xFC000: "FC", 0xFD000: "FD"}


class Opcode:
    """One row of ``OPCODE_TABLE``."""

    __slots__ = ("code", "name", "imm", "sig", "access_size")

    def __init__(self, code: int, name: str, imm: str, sig: str, access_size: int) -> None:
        self.code = code
        self.name = name
        self.imm = imm
        self.sig = sig
        self.access_size = access_size

    @property
    def constant(self) -> str:
        """The module-level constant naming the opcode: ``i32.add`` -> ``I32_ADD``."""
        return self.name.upper().replace(".", "_")

    def code_expr(self) -> str:
        """The constant's value as source: ``0x6A``, or ``FC | 0x08`` for a prefixed one."""
        prefix = self.code & ~0xFFF
        if prefix in _PREFIXES:
            return f"{_PREFIXES[prefix]} | 0x{self.code & 0xFFF:02X}"
        return f"0x{self.code:02X}"

    def sig_expr(self) -> str | None:
        """The OpInfo ``sig`` as source, or None for an instruction with its own typing."""
        if self.sig == "-":
            return None
        params, results = self.sig.split(":")
        return f"({_types_expr(params)}, {_types_expr(results)})"


def _types_expr(letters: str) -> str:
    names = [_TYPE_LETTERS[letter] for letter in letters]
    if len(names) == 1:
        return f"({names[0]},)"
    return f"({', '.join(names)})"


def parse_table(text: str = OPCODE_TABLE) -> list[str | Opcode]:
    """The table's rows in order: an ``Opcode`` per opcode, a str per section title.

    Raises ValueError for a malformed row, a repeated code or name, or codes out of order.
    """
    rows: list[str | Opcode] = []
    codes: set[int] = set()
    names: set[str] = set()
    last = -1
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            rows.append(line.lstrip("#").strip())
            continue
        fields = line.split()
        if len(fields) not in (4, 5):
            raise ValueError(f"opcode table line {number}: expected 4 or 5 fields: {line!r}")
        code = int(fields[0], 16)
        name, imm, sig = fields[1], fields[2], fields[3]
        if imm not in _IMM_KINDS:
            raise ValueError(f"opcode table line {number}: unknown immediate kind {imm}")
        if sig != "-" and (sig.count(":") != 1 or set(sig) - set(_TYPE_LETTERS) - {":"}):
            raise ValueError(f"opcode table line {number}: malformed signature {sig!r}")
        if code in codes or name in names:
            raise ValueError(f"opcode table line {number}: {name} ({code:#x}) repeated")
        if code <= last:
            raise ValueError(f"opcode table line {number}: codes must increase")
        codes.add(code)
        names.add(name)
        last = code
        access_size = int(fields[4]) if len(fields) == 5 else 0
        rows.append(Opcode(code, name, imm, sig, access_size))
    return rows


def _call(head: str, args: list[str], tail: str, indent: str) -> list[str]:
    """``head(args)tail`` on one line if it fits, else wrapped as a formatter would."""
    one_line = f"{indent}{head}({', '.join(args)}){tail}"
    if len(one_line) <= LINE_LENGTH:
        return [one_line]
    inner = f"{indent}    {', '.join(args)}"
    if len(inner) <= LINE_LENGTH:
        return [f"{indent}{head}(", inner, f"{indent}){tail}"]
    return [f"{indent}{head}(", *(f"{indent}    {arg}," for arg in args), f"{indent}){tail}"]


def _range_entries(ranges: list[tuple[int, int, str, str]], width: int) -> list[str]:
    lines = []
    for first, stop, proposal, what in ranges:
        if stop - first == 1:
            lines.append(f'    0x{first:0{width}X}: "{proposal}",  # {what}')
        else:
            lines.append(
                f'    **{{code: "{proposal}" for code in range(0x{first:0{width}X}, '
                f"0x{stop:0{width}X})}},  # {what}"
            )
    return lines


HEADER = '''\
"""The instruction set: every opcode pyjitwasm decodes, its immediates and its type.

GENERATED by tools/gen_wasm_opcodes.py from the opcode table it holds: do not edit this
file; change the table there and run ``.venv/bin/python tools/gen_wasm_opcodes.py``.

Opcodes are ints. Single-byte opcodes keep their byte value; prefixed ones are
``(prefix << 12) | subopcode`` (``FC | 0x08`` is ``memory.init``, ``FD | 0x0E`` is
``i8x16.swizzle``). Each has a module-level constant named in upper snake case with the
dot replaced (``I32_ADD``, ``MEMORY_INIT``, ``V128_LOAD8X8_S``), and an ``OpInfo`` in
``OPS``. The shapes (``OpInfo``, ``Imm``, ``MemArg``, ``BlockImm``) are defined in
``opinfo`` and re-exported here.
"""

from __future__ import annotations

from typing import Final

from pyjitwasm.wasm.opinfo import BLOCKTYPE_EMPTY as BLOCKTYPE_EMPTY
from pyjitwasm.wasm.opinfo import FC as FC
from pyjitwasm.wasm.opinfo import FD as FD
from pyjitwasm.wasm.opinfo import BlockImm as BlockImm
from pyjitwasm.wasm.opinfo import Imm as Imm
from pyjitwasm.wasm.opinfo import MemArg as MemArg
from pyjitwasm.wasm.opinfo import OpInfo as OpInfo
from pyjitwasm.wasm.opinfo import Signature as Signature
from pyjitwasm.wasm.types import F32, F64, I32, I64, V128'''


def render(text: str = OPCODE_TABLE) -> str:
    """The source of ``wasm/opcodes.py`` for an opcode table."""
    rows = parse_table(text)
    out = [HEADER]
    for row in rows:
        if isinstance(row, str):
            out.append(f"\n# {row}")
        else:
            out.append(f"{row.constant}: Final = {row.code_expr()}")
    out.append("\n_OP_INFOS: Final = (")
    for row in rows:
        if isinstance(row, str):
            out.append(f"    # {row}")
            continue
        args = [row.constant, f'"{row.name}"', f"Imm.{row.imm}"]
        sig = row.sig_expr()
        if sig is not None:
            args.append(sig)
        if row.access_size:
            args.append(f"access_size={row.access_size}")
        out.extend(_call("OpInfo", args, ",", "    "))
    out.append(")")
    out.append("")
    out.append("OPS: Final[dict[int, OpInfo]] = {info.code: info for info in _OP_INFOS}")
    out.append('"""Every supported opcode\'s OpInfo, keyed by opcode."""')
    out.append("OPS_BY_NAME: Final[dict[str, OpInfo]] = {info.name: info for info in _OP_INFOS}")
    out.append('"""The same, keyed by text-format name (``select_t`` is typed ``select``)."""')
    out.append("")
    out.append("# Opcodes that belong to proposals pyjitwasm does not implement, so the decoder")
    out.append("# can name the proposal instead of reporting an unknown opcode.")
    out.append("UNSUPPORTED_OPCODES: Final[dict[int, str]] = {")
    for code, proposal, what in UNSUPPORTED_OPCODES:
        out.append(f'    0x{code:02X}: "{proposal}",  # {what}')
    out.extend(_range_entries(UNSUPPORTED_OPCODE_RANGES, 2))
    out.append("}")
    out.append("UNSUPPORTED_PREFIXES: Final[dict[int, str]] = {")
    for code, proposal in UNSUPPORTED_PREFIXES:
        out.append(f'    0x{code:02X}: "{proposal}",')
    out.append("}")
    out.append("# Subopcodes after the 0xFC and 0xFD prefixes.")
    out.append("UNSUPPORTED_FC: Final[dict[int, str]] = {")
    out.extend(_range_entries(UNSUPPORTED_FC_RANGES, 2))
    out.append("}")
    fd_entries = _range_entries(UNSUPPORTED_FD_RANGES, 2)
    if fd_entries:
        out.append("UNSUPPORTED_FD: Final[dict[int, str]] = {")
        out.extend(fd_entries)
        out.append("}")
    else:
        out.append("UNSUPPORTED_FD: Final[dict[int, str]] = {}")
    out.append("")
    out.append("# Opcodes of proposals a ``Features`` flag (wasm.features) switches on and off:")
    out.append("# opcode -> (the flag's attribute name, the proposal).")
    out.append("FEATURE_GATED: Final[dict[int, tuple[str, str]]] = {")
    for first, stop, flag, proposal, what in FEATURE_GATED_RANGES:
        first_expr = Opcode(first, "", "NONE", "-", 0).code_expr()
        stop_expr = Opcode(stop, "", "NONE", "-", 0).code_expr()
        entry = f'("{flag}", "{proposal}")'
        out.append(f"    **{{code: {entry} for code in range({first_expr}, {stop_expr})}},")
        out.append(f"    # {what}")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the checked-in file is out of date"
    )
    args = parser.parse_args(argv)
    source = render()
    current = OUTPUT.read_text() if OUTPUT.exists() else None
    if args.check:
        if current != source:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run tools/gen_wasm_opcodes.py")
            return 1
        return 0
    if current != source:
        OUTPUT.write_text(source)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
