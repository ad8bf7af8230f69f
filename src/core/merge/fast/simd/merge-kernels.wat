;; The fast CPU backend's vector kernels (wasm SIMD, 4 lanes of f32): 16-bit decode, the weighted
;; sum's steps, task vectors, round-to-nearest-even encode, TIES's merge of two trimmed task vectors,
;; and the magnitude selection's counts and trim (on |x| bit patterns). Each is the same IEEE f32
;; arithmetic as its scalar twin in ../codec.ts and ../kernels.ts (wasm never fuses a·b + c), so the
;; bits match the reference backend. Pointers are byte offsets into the exported memory; `n` counts
;; elements and is a multiple of 4 (the caller pads a block; lanes past its length are never read back),
;; except count_high's, which counts exactly n.
;; Compiled by scripts/build-simd.ts into merge-kernels.wasm.ts (checked by test/core/simd-kernels.test.ts).
(module
  (memory (export "memory") 56)

  ;; dst[i] = f32 of the bf16 word src[i], bit for bit (the word is the top half of the pattern;
  ;; no arithmetic, so a signaling NaN stays as it is).
  (func (export "decode_bf16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store (local.get $dst) (i32x4.shl (v128.load16x4_u (local.get $src)) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; dst[i] = f32 of the f16 word src[i], as f16BitsToF32: exponent and mantissa shifted into place
  ;; and scaled by 2^112 (exact for normal and subnormal halves), ±inf kept, every NaN → 0x7fc00000.
  (func (export "decode_f16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $h v128) (local $em v128) (local $sign v128) (local $v v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $h (v128.load16x4_u (local.get $src)))
        (local.set $em (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $sign
          (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16)))
        (local.set $v
          (v128.or
            (f32x4.mul (i32x4.shl (local.get $em) (i32.const 13)) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
            (local.get $sign)))
        ;; exponent all ones: infinity keeps its sign; NaN is the canonical quiet NaN
        (local.set $v
          (v128.bitselect
            (v128.or (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000) (local.get $sign))
            (local.get $v)
            (i32x4.eq (local.get $em) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $v
          (v128.bitselect
            (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000)
            (local.get $v)
            (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (v128.store (local.get $dst) (local.get $v))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; The weighted sum, one operand at a time: t = w · x[i] (f32), then dst[i] = t (the first
  ;; operand, `add` = 0) or dst[i] = t + dst[i] (each further one, in input order). The new term is
  ;; the add's first operand, so where both are NaN the result carries the new term's NaN, as the
  ;; scalar twin's does on x86 (which NaN an add returns is the one thing IEEE leaves to the hardware).
  (func (export "accumulate_f32") (param $x i32) (param $w f32) (param $dst i32) (param $n i32) (param $add i32)
    (local $end i32) (local $ws v128) (local $t v128)
    (local.set $ws (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $t (f32x4.mul (local.get $ws) (v128.load (local.get $x))))
        (if (local.get $add) (then (local.set $t (f32x4.add (local.get $t) (v128.load (local.get $dst))))))
        (v128.store (local.get $dst) (local.get $t))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; The same with a bf16 operand, decoded on the way (the word is the top half of the f32 pattern).
  ;; (An f16 operand is decoded by decode_f16 first: wasm calls are not inlined, and its decode is long.)
  (func (export "accumulate_bf16") (param $x i32) (param $w f32) (param $dst i32) (param $n i32) (param $add i32)
    (local $end i32) (local $ws v128) (local $t v128)
    (local.set $ws (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $t (f32x4.mul (local.get $ws) (i32x4.shl (v128.load16x4_u (local.get $x)) (i32.const 16))))
        (if (local.get $add) (then (local.set $t (f32x4.add (local.get $t) (v128.load (local.get $dst))))))
        (v128.store (local.get $dst) (local.get $t))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; dst[i] = a[i] − b[i] (a task vector).
  (func (export "subtract") (param $a i32) (param $b i32) (param $dst i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; TIES for two models (magnitude-kernels.ts combineScaled): x = w0·d0[i], y = w1·d1[i] (trimmed
  ;; task vectors, dropped values +0); the elected sign is that of x + y (≥ 0: +); of x and y, those
  ;; agreeing with it are summed as disjointMean adds them (x first, then + y); the sum is divided by
  ;; (or, `multiply` ≠ 0, multiplied by the reciprocal of) the divisor for its agreement, s0 none,
  ;; s1 x only, s2 y only, s3 both; out[i] = base[i] + λ · that. A value that agrees is never ±0 or
  ;; NaN, so the agreeing sum never meets a NaN.
  (func (export "ties_pair") (param $d0 i32) (param $d1 i32) (param $base i32) (param $out i32) (param $n i32)
    (param $w0 f32) (param $w1 f32) (param $lam f32)
    (param $s0 f32) (param $s1 f32) (param $s2 f32) (param $s3 f32) (param $multiply i32)
    (local $end i32) (local $x v128) (local $y v128) (local $pos v128) (local $a0 v128) (local $a1 v128)
    (local $sum v128) (local $scale v128) (local $zero v128)
    (local.set $end (i32.add (local.get $d0) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $d0) (local.get $end)))
        (local.set $x (f32x4.mul (f32x4.splat (local.get $w0)) (v128.load (local.get $d0))))
        (local.set $y (f32x4.mul (f32x4.splat (local.get $w1)) (v128.load (local.get $d1))))
        (local.set $pos (f32x4.ge (f32x4.add (local.get $x) (local.get $y)) (local.get $zero)))
        (local.set $a0
          (v128.bitselect (f32x4.gt (local.get $x) (local.get $zero)) (f32x4.lt (local.get $x) (local.get $zero)) (local.get $pos)))
        (local.set $a1
          (v128.bitselect (f32x4.gt (local.get $y) (local.get $zero)) (f32x4.lt (local.get $y) (local.get $zero)) (local.get $pos)))
        (local.set $sum (v128.and (local.get $x) (local.get $a0)))
        (local.set $sum (v128.bitselect (f32x4.add (local.get $sum) (local.get $y)) (local.get $sum) (local.get $a1)))
        (local.set $scale
          (v128.bitselect
            (v128.bitselect (f32x4.splat (local.get $s3)) (f32x4.splat (local.get $s2)) (local.get $a0))
            (v128.bitselect (f32x4.splat (local.get $s1)) (f32x4.splat (local.get $s0)) (local.get $a0))
            (local.get $a1)))
        (if (local.get $multiply)
          (then (local.set $sum (f32x4.mul (local.get $sum) (local.get $scale))))
          (else (local.set $sum (f32x4.div (local.get $sum) (local.get $scale)))))
        ;; λ·q first: where base and λ·q are both NaN (λ = 0 times ∞), the scalar twin returns λ·q's
        (v128.store (local.get $out)
          (f32x4.add (f32x4.mul (f32x4.splat (local.get $lam)) (local.get $sum)) (v128.load (local.get $base))))
        (local.set $d0 (i32.add (local.get $d0) (i32.const 16)))
        (local.set $d1 (i32.add (local.get $d1) (i32.const 16)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next))))

  ;; The selection's first histogram: |x| bits of src[0, n) (f32 patterns) counted by their top 16
  ;; bits, element i into copy i mod 8 of the histogram (copy j at $hist + j · $stride bytes; a NaN,
  ;; |x| above +inf's bits, into slot 65536, past the buckets). Task vectors of quantized weights
  ;; put long runs into a few buckets: with one histogram each count would wait for the last.
  (func (export "count_high") (param $src i32) (param $n i32) (param $hist i32) (param $stride i32)
    (local $end i32) (local $a i32) (local $p i32) (local $offA v128) (local $offB v128) (local $q v128) (local $v v128)
    (local.set $offA (i32x4.add (i32x4.splat (local.get $hist))
      (i32x4.mul (i32x4.splat (local.get $stride)) (v128.const i32x4 0 1 2 3))))
    (local.set $offB (i32x4.add (local.get $offA) (i32x4.splat (i32.shl (local.get $stride) (i32.const 2)))))
    (local.set $end (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $q (i32x4.add (local.get $offA) (i32x4.shl
            (v128.bitselect
              (v128.const i32x4 65536 65536 65536 65536)
              (i32x4.shr_u (local.tee $v (v128.and (v128.load (local.get $src)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))) (i32.const 15))
              (i32x4.gt_s (local.get $v) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
            (i32.const 2))))
        (local.set $p (i32x4.extract_lane 0 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $q (i32x4.add (local.get $offB) (i32x4.shl
            (v128.bitselect
              (v128.const i32x4 65536 65536 65536 65536)
              (i32x4.shr_u (local.tee $v (v128.and (v128.load offset=16 (local.get $src)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))) (i32.const 15))
              (i32x4.gt_s (local.get $v) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
            (i32.const 2))))
        (local.set $p (i32x4.extract_lane 0 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (br $next)))
    ;; the last n mod 8, into copy 0
    (local.set $end (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const 7)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $a (i32.and (i32.load (local.get $src)) (i32.const 0x7fffffff)))
        (local.set $p (i32.add (local.get $hist) (i32.shl
          (select (i32.const 65536) (i32.shr_u (local.get $a) (i32.const 15)) (i32.gt_u (local.get $a) (i32.const 0x7f800000)))
          (i32.const 2)))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $next))))

  ;; The selection's second histogram over a window of $count high buckets from $first: the low 15
  ;; bits of each |x| whose top 16 bits fall in it, at slot (bucket − first) · 2^15 + low of $low.
  ;; The rest are only counted, in registers: below the window, above it, NaN, added to the three
  ;; i32 at $totals. So that nothing branches, they also bump a slot at $trash, one of 64 in turn
  ;; (a few slots bumped by every element would make each wait for the last). n is a multiple of 4.
  (func (export "count_window") (param $src i32) (param $n i32) (param $first i32) (param $count i32)
    (param $low i32) (param $trash i32) (param $totals i32)
    (local $end i32) (local $p i32) (local $a v128) (local $slot v128) (local $nan v128) (local $in v128)
    (local $q v128) (local $turn v128) (local $firsts v128) (local $counts v128)
    (local $below v128) (local $above v128) (local $nans v128)
    (local.set $firsts (i32x4.splat (local.get $first)))
    (local.set $counts (i32x4.splat (local.get $count)))
    (local.set $turn (v128.const i32x4 0 4 8 12))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $a (v128.and (v128.load (local.get $src)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $slot (i32x4.sub (i32x4.shr_u (local.get $a) (i32.const 15)) (local.get $firsts)))
        (local.set $nan (i32x4.gt_s (local.get $a) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
        (local.set $in (v128.andnot (i32x4.lt_u (local.get $slot) (local.get $counts)) (local.get $nan)))
        (local.set $nans (i32x4.sub (local.get $nans) (local.get $nan)))
        (local.set $below (i32x4.sub (local.get $below)
          (v128.andnot (i32x4.lt_s (local.get $slot) (v128.const i32x4 0 0 0 0)) (local.get $nan))))
        (local.set $above (i32x4.sub (local.get $above)
          (v128.andnot (i32x4.ge_s (local.get $slot) (local.get $counts)) (local.get $nan))))
        (local.set $q
          (v128.bitselect
            (i32x4.add (i32x4.splat (local.get $low))
              (i32x4.shl
                (v128.or (i32x4.shl (local.get $slot) (i32.const 15)) (v128.and (local.get $a) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
                (i32.const 2)))
            (i32x4.add (i32x4.splat (local.get $trash)) (local.get $turn))
            (local.get $in)))
        (local.set $turn (v128.and (i32x4.add (local.get $turn) (v128.const i32x4 16 16 16 16)) (v128.const i32x4 255 255 255 255)))
        (local.set $p (i32x4.extract_lane 0 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $q))) (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next)))
    (i32.store (local.get $totals) (i32.add (i32.load (local.get $totals)) (call $sum4 (local.get $below))))
    (i32.store offset=4 (local.get $totals) (i32.add (i32.load offset=4 (local.get $totals)) (call $sum4 (local.get $above))))
    (i32.store offset=8 (local.get $totals) (i32.add (i32.load offset=8 (local.get $totals)) (call $sum4 (local.get $nans)))))

  (func $sum4 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; Copies 1..$copies−1 of a histogram ($n slots, a multiple of 4; copy j at $at + j · $stride
  ;; bytes) added into copy 0, and cleared.
  (func (export "fold_copies") (param $at i32) (param $copies i32) (param $stride i32) (param $n i32)
    (local $j i32) (local $src i32) (local $dst i32) (local $end i32)
    (local.set $j (i32.const 1))
    (block $copiesDone
      (loop $nextCopy
        (br_if $copiesDone (i32.ge_u (local.get $j) (local.get $copies)))
        (local.set $src (i32.add (local.get $at) (i32.mul (local.get $j) (local.get $stride))))
        (local.set $dst (local.get $at))
        (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
            (v128.store (local.get $dst) (i32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
            (v128.store (local.get $src) (v128.const i32x4 0 0 0 0))
            (local.set $src (i32.add (local.get $src) (i32.const 16)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (br $next)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $nextCopy))))

  ;; How many of src[0, n) have |x| bits equal to $v.
  (func (export "count_eq") (param $src i32) (param $n i32) (param $v i32) (result i32)
    (local $end i32) (local $acc v128) (local $vs v128)
    (local.set $vs (i32x4.splat (local.get $v)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $acc (i32x4.sub (local.get $acc)
          (i32x4.eq (v128.and (v128.load (local.get $src)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)) (local.get $vs))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next)))
    (call $sum4 (local.get $acc)))

  ;; The trim, in place: src[i] is kept where |x| bits are above $lo (or equal, $lo_eq ≠ 0) and not
  ;; above $hi (nor equal, $hi_eq ≠ 0), else set to +0. NaNs are above any bound ≤ +inf's bits.
  (func (export "mask_band") (param $src i32) (param $n i32) (param $lo i32) (param $hi i32) (param $lo_eq i32) (param $hi_eq i32)
    (local $end i32) (local $x v128) (local $a v128) (local $los v128) (local $his v128) (local $loe v128) (local $hie v128)
    (local.set $los (i32x4.splat (local.get $lo)))
    (local.set $his (i32x4.splat (local.get $hi)))
    (local.set $loe (i32x4.splat (i32.sub (i32.const 0) (local.get $lo_eq))))
    (local.set $hie (i32x4.splat (i32.sub (i32.const 0) (local.get $hi_eq))))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $x (v128.load (local.get $src)))
        (local.set $a (v128.and (local.get $x) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (v128.store (local.get $src)
          (v128.andnot
            (v128.and (local.get $x)
              (v128.or (i32x4.gt_s (local.get $a) (local.get $los)) (v128.and (local.get $loe) (i32x4.eq (local.get $a) (local.get $los)))))
            (v128.or (i32x4.gt_s (local.get $a) (local.get $his)) (v128.and (local.get $hie) (i32x4.eq (local.get $a) (local.get $his))))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))

  ;; dst[i] = the bf16 word of the f32 src[i], rounded to nearest even; NaN keeps its top bits, made quiet.
  (func (export "encode_bf16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $b v128) (local $h v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $b (v128.load (local.get $src)))
        ;; (b + 0x7fff + ((b >> 16) & 1)) >>> 16, wrapping as the scalar twin's ToUint32 does
        (local.set $h
          (i32x4.shr_u
            (i32x4.add
              (i32x4.add (local.get $b) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
              (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 1 1 1 1)))
            (i32.const 16)))
        (local.set $h
          (v128.bitselect
            (v128.or (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x40 0x40 0x40 0x40))
            (local.get $h)
            (i32x4.gt_s
              (v128.and (local.get $b) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
              (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        (v128.store64_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $h) (local.get $h)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br $next))))

  ;; dst[i] = the f16 word of the f32 src[i], as f32ToF16Bits: normal halves by integer RNE on the
  ;; pattern, subnormal halves (and zero) by rounding |x| · 2^24 to the nearest even integer (exact:
  ;; a power-of-two scale), overflow to ±inf, NaN to the quiet 0x7e00.
  (func (export "encode_f16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $b v128) (local $a v128) (local $h v128) (local $sub v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $b (v128.load (local.get $src)))
        (local.set $a (v128.and (local.get $b) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        ;; normal: (a − 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13 (a carry may reach inf)
        (local.set $h
          (i32x4.shr_u
            (i32x4.add
              (i32x4.add (local.get $a) (v128.const i32x4 0xc8000fff 0xc8000fff 0xc8000fff 0xc8000fff))
              (v128.and (i32x4.shr_u (local.get $a) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
            (i32.const 13)))
        ;; |x| ≥ 65520 rounds past the largest half: inf, or a quiet NaN
        (local.set $h
          (v128.bitselect
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)
            (local.get $h)
            (i32x4.ge_s (local.get $a) (v128.const i32x4 0x47800000 0x47800000 0x47800000 0x47800000))))
        (local.set $h
          (v128.bitselect
            (v128.const i32x4 0x7e00 0x7e00 0x7e00 0x7e00)
            (local.get $h)
            (i32x4.gt_s (local.get $a) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        ;; below the smallest normal half: round(|x| · 2^24) to even
        (local.set $sub
          (i32x4.trunc_sat_f32x4_s
            (f32x4.nearest (f32x4.mul (local.get $a) (v128.const f32x4 0x1p24 0x1p24 0x1p24 0x1p24)))))
        (local.set $h
          (v128.bitselect
            (local.get $sub)
            (local.get $h)
            (i32x4.lt_s (local.get $a) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        (local.set $h
          (v128.or (local.get $h)
            (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store64_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $h) (local.get $h)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br $next)))))
