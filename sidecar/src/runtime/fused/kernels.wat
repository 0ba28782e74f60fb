;; Fused elementwise kernels for tfjs-backend-wasm, on its own memory (imported): one pass over
;; the data where the tfjs ops took several (runtime/fusedKernels.ts says what calls them and
;; why). Every pointer is a byte offset into that memory; rows × channels tensors are NHWC
;; flattened, with the channel count a multiple of 4 (one f32x4 per 4 channels). The arithmetic
;; is the tfjs ops' own, operation by operation in float32, in the same order, so the results are
;; the same to the bit except for the order of the per-channel sums.
;;
;; Assembled by scripts/build-fused-kernels.mjs into kernels.wasm.ts (wabt's wat2wasm).
(module
  (import "env" "memory" (memory 1))

  ;; y[r, c] = (x[r, c] − mean[c]) · a[c] + beta[c]: BatchNorm's normalisation and affine map.
  (func (export "bnApply")
    (param $x i32) (param $y i32) (param $rows i32) (param $ch i32)
    (param $mean i32) (param $a i32) (param $beta i32)
    (local $j i32) (local $rowBytes i32) (local $end i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $y) (local.get $j))
              (f32x4.add
                (f32x4.mul
                  (f32x4.sub
                    (v128.load (i32.add (local.get $x) (local.get $j)))
                    (v128.load (i32.add (local.get $mean) (local.get $j))))
                  (v128.load (i32.add (local.get $a) (local.get $j))))
                (v128.load (i32.add (local.get $beta) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $col)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (br $row))))

  ;; dx[r, c] = (g[r, c] · a[c] + (x[r, c] − mean[c]) · b[c]) + k[c]: BatchNorm's input gradient.
  (func (export "bnGradInput")
    (param $g i32) (param $x i32) (param $dx i32) (param $rows i32) (param $ch i32)
    (param $mean i32) (param $a i32) (param $b i32) (param $k i32)
    (local $j i32) (local $rowBytes i32) (local $end i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $dx) (local.get $j))
              (f32x4.add
                (f32x4.add
                  (f32x4.mul
                    (v128.load (i32.add (local.get $g) (local.get $j)))
                    (v128.load (i32.add (local.get $a) (local.get $j))))
                  (f32x4.mul
                    (f32x4.sub
                      (v128.load (i32.add (local.get $x) (local.get $j)))
                      (v128.load (i32.add (local.get $mean) (local.get $j))))
                    (v128.load (i32.add (local.get $b) (local.get $j)))))
                (v128.load (i32.add (local.get $k) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $col)))
        (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (br $row))))

  ;; Adds each block's partial sums (`part`, $n bytes) into `total` and zeroes `part`.
  (func $flush (param $total i32) (param $part i32) (param $n i32)
    (local $j i32)
    (block $done
      (loop $col
        (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
        (v128.store (i32.add (local.get $total) (local.get $j))
          (f32x4.add
            (v128.load (i32.add (local.get $total) (local.get $j)))
            (v128.load (i32.add (local.get $part) (local.get $j)))))
        (v128.store (i32.add (local.get $part) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $col))))

  ;; Zeroes $n bytes at $p (a multiple of 16).
  (func $zero (param $p i32) (param $n i32)
    (local $j i32)
    (block $done
      (loop $col
        (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
        (v128.store (i32.add (local.get $p) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $col))))

  ;; Per channel, Σ_r (x[r, c] − mean[c])² into sq; or, with $g ≠ 0, Σ_r g[r, c] into gs and
  ;; Σ_r g[r, c] · (x[r, c] − mean[c]) into gxs (and sq is not touched). Rows are summed in
  ;; blocks of 256 whose partial sums (in `part`, 3 × channels floats) are added to the totals:
  ;; float32 sums of 256 terms and then of rows/256 blocks.
  (func (export "bnSums")
    (param $x i32) (param $g i32) (param $rows i32) (param $ch i32) (param $mean i32)
    (param $sq i32) (param $gs i32) (param $gxs i32) (param $part i32)
    (local $j i32) (local $rowBytes i32) (local $r i32) (local $d v128) (local $gv v128)
    (local $p1 i32) (local $p2 i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $p1 (i32.add (local.get $part) (local.get $rowBytes)))
    (local.set $p2 (i32.add (local.get $p1) (local.get $rowBytes)))
    (call $zero (local.get $part) (i32.mul (local.get $rowBytes) (i32.const 3)))
    (if (local.get $g)
      (then
        (call $zero (local.get $gs) (local.get $rowBytes))
        (call $zero (local.get $gxs) (local.get $rowBytes)))
      (else (call $zero (local.get $sq) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (if (local.get $g)
          (then
            (block $rowDone
              (loop $col
                (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (local.set $d
                  (f32x4.sub
                    (v128.load (i32.add (local.get $x) (local.get $j)))
                    (v128.load (i32.add (local.get $mean) (local.get $j)))))
                (local.set $gv (v128.load (i32.add (local.get $g) (local.get $j))))
                (v128.store (i32.add (local.get $p1) (local.get $j))
                  (f32x4.add (v128.load (i32.add (local.get $p1) (local.get $j))) (local.get $gv)))
                (v128.store (i32.add (local.get $p2) (local.get $j))
                  (f32x4.add
                    (v128.load (i32.add (local.get $p2) (local.get $j)))
                    (f32x4.mul (local.get $gv) (local.get $d))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $col)))
            (local.set $g (i32.add (local.get $g) (local.get $rowBytes))))
          (else
            (block $rowDone
              (loop $col
                (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (local.set $d
                  (f32x4.sub
                    (v128.load (i32.add (local.get $x) (local.get $j)))
                    (v128.load (i32.add (local.get $mean) (local.get $j)))))
                (v128.store (i32.add (local.get $part) (local.get $j))
                  (f32x4.add
                    (v128.load (i32.add (local.get $part) (local.get $j)))
                    (f32x4.mul (local.get $d) (local.get $d))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $col)))))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (if (i32.or
              (i32.eqz (i32.and (local.get $r) (i32.const 255)))
              (i32.eq (local.get $r) (local.get $rows)))
          (then
            (if (local.get $g)
              (then
                (call $flush (local.get $gs) (local.get $p1) (local.get $rowBytes))
                (call $flush (local.get $gxs) (local.get $p2) (local.get $rowBytes)))
              (else (call $flush (local.get $sq) (local.get $part) (local.get $rowBytes))))))
        (br $row))))

  ;; dx[i] = dy[i] · (x[i] > 0 ? 1 : 0) over $n floats ($n a multiple of 4): ReLU's gradient from
  ;; its input (or its output), as tfjs's step, cast and product in one pass.
  (func (export "reluGrad")
    (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $dx)
          (f32x4.mul
            (v128.load (local.get $dy))
            (v128.and
              (f32x4.gt (v128.load (local.get $x)) (v128.const f32x4 0 0 0 0))
              (v128.const f32x4 1 1 1 1))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
        (br $next))))

  ;; out[c] = (Σ_r x[r, c]) / divisor: a sum (divisor 1) or mean over the leading axes of a rows ×
  ;; channels tensor, in blocks of 256 rows as bnSums adds them (`part`: channels floats).
  (func (export "colSums")
    (param $x i32) (param $rows i32) (param $ch i32) (param $out i32) (param $part i32) (param $divisor f32)
    (local $j i32) (local $rowBytes i32) (local $r i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (call $zero (local.get $part) (local.get $rowBytes))
    (call $zero (local.get $out) (local.get $rowBytes))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $part) (local.get $j))
              (f32x4.add
                (v128.load (i32.add (local.get $part) (local.get $j)))
                (v128.load (i32.add (local.get $x) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $col)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (if (i32.or
              (i32.eqz (i32.and (local.get $r) (i32.const 255)))
              (i32.eq (local.get $r) (local.get $rows)))
          (then (call $flush (local.get $out) (local.get $part) (local.get $rowBytes))))
        (br $row)))
    (if (f32.ne (local.get $divisor) (f32.const 1))
      (then
        (local.set $j (i32.const 0))
        (block $divDone
          (loop $div
            (br_if $divDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.div (v128.load (i32.add (local.get $out) (local.get $j))) (f32x4.splat (local.get $divisor))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $div))))))

  ;; dx of a max pool (NHWC, any window, stride and padding): each window searched once per 4
  ;; channels for its first strict maximum in row-major order (the tap index kept per lane), then
  ;; dy added at that tap. Strict `>` from −∞: ties go to the first, a NaN is never a maximum, and
  ;; an all −∞ (or all NaN) window passes no gradient, as in wasmKernels.ts's kernel. The window is
  ;; clipped to the image once per output position, so the taps are walked by pointer increments
  ;; (index arithmetic per tap and per 4 channels made the kernel instruction-bound: measured, the
  ;; CNN's 2×2 pool of [128, 28, 28, 16] 2.2–2.8 → 1.5–1.8 ms, ResNet-18's 3×3 stride-2 pool of
  ;; [32, 32, 32, 64] 4.3–7.3 → 2.7 ms).
  (func (export "maxPoolGrad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $n i32) (param $h i32) (param $w i32) (param $ch i32) (param $oh i32) (param $ow i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $j i32) (local $t i32)
    (local $rowBytes i32) (local $lineBytes i32) (local $imageBytes i32)
    (local $y0 i32) (local $y1 i32) (local $x0 i32) (local $x1 i32) (local $y i32) (local $xx i32)
    (local $xb i32) (local $dxb i32) (local $window i32) (local $p i32) (local $q i32) (local $g i32)
    (local $best v128) (local $idx v128) (local $v v128) (local $gt v128) (local $dyv v128)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $lineBytes (i32.mul (local.get $w) (local.get $rowBytes)))
    (local.set $imageBytes (i32.mul (local.get $h) (local.get $lineBytes)))
    (call $zero (local.get $dx) (i32.mul (local.get $n) (local.get $imageBytes)))
    (local.set $g (local.get $dy))
    (local.set $xb (local.get $x))
    (local.set $dxb (local.get $dx))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $oyDone (loop $oyLoop
        (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
        ;; The window's rows, clipped to the image: [y0, y1).
        (local.set $y0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
        (local.set $y1 (i32.add (local.get $y0) (local.get $kh)))
        (if (i32.lt_s (local.get $y0) (i32.const 0)) (then (local.set $y0 (i32.const 0))))
        (if (i32.gt_s (local.get $y1) (local.get $h)) (then (local.set $y1 (local.get $h))))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
          (local.set $x1 (i32.add (local.get $x0) (local.get $kw)))
          (if (i32.lt_s (local.get $x0) (i32.const 0)) (then (local.set $x0 (i32.const 0))))
          (if (i32.gt_s (local.get $x1) (local.get $w)) (then (local.set $x1 (local.get $w))))
          ;; Byte offset of the window's first tap in the image.
          (local.set $window
            (i32.add (i32.mul (local.get $y0) (local.get $lineBytes)) (i32.mul (local.get $x0) (local.get $rowBytes))))
          (local.set $j (i32.const 0))
          (block $jDone (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            ;; Pass 1: the first strict maximum's tap, per lane (−1: none).
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $idx (i32x4.splat (i32.const -1)))
            (local.set $t (i32.const 0))
            (local.set $p (i32.add (i32.add (local.get $xb) (local.get $window)) (local.get $j)))
            (local.set $y (local.get $y0))
            (block $yDone (loop $yLoop
              (br_if $yDone (i32.ge_s (local.get $y) (local.get $y1)))
              (local.set $q (local.get $p))
              (local.set $xx (local.get $x0))
              (block $xDone (loop $xLoop
                (br_if $xDone (i32.ge_s (local.get $xx) (local.get $x1)))
                (local.set $v (v128.load (local.get $q)))
                (local.set $gt (f32x4.gt (local.get $v) (local.get $best)))
                (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $gt)))
                (local.set $idx (v128.bitselect (i32x4.splat (local.get $t)) (local.get $idx) (local.get $gt)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (local.set $q (i32.add (local.get $q) (local.get $rowBytes)))
                (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
                (br $xLoop)))
              (local.set $p (i32.add (local.get $p) (local.get $lineBytes)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $yLoop)))
            ;; Pass 2: dy added at each lane's tap.
            (local.set $dyv (v128.load (i32.add (local.get $g) (local.get $j))))
            (local.set $t (i32.const 0))
            (local.set $p (i32.add (i32.add (local.get $dxb) (local.get $window)) (local.get $j)))
            (local.set $y (local.get $y0))
            (block $yDone (loop $yLoop
              (br_if $yDone (i32.ge_s (local.get $y) (local.get $y1)))
              (local.set $q (local.get $p))
              (local.set $xx (local.get $x0))
              (block $xDone (loop $xLoop
                (br_if $xDone (i32.ge_s (local.get $xx) (local.get $x1)))
                (v128.store (local.get $q)
                  (f32x4.add (v128.load (local.get $q))
                    (v128.and (local.get $dyv) (i32x4.eq (local.get $idx) (i32x4.splat (local.get $t))))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (local.set $q (i32.add (local.get $q) (local.get $rowBytes)))
                (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
                (br $xLoop)))
              (local.set $p (i32.add (local.get $p) (local.get $lineBytes)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $yLoop)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $jLoop)))
          (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $oxLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oyLoop)))
      (local.set $xb (i32.add (local.get $xb) (local.get $imageBytes)))
      (local.set $dxb (i32.add (local.get $dxb) (local.get $imageBytes)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; Adam's update of n floats, as optimizer.ts writes it with tfjs ops:
  ;;   m2 = m·b1 + g·nb1;  v2 = v·b2 + (g·g)·nb2;  u = (m2·step) / (√(v2 / c2) + eps);
  ;;   u += p·lrwd when lrwd ≠ 0;  p2 = p − u.
  (func (export "adam")
    (param $g i32) (param $m i32) (param $v i32) (param $p i32)
    (param $m2 i32) (param $v2 i32) (param $p2 i32) (param $n i32)
    (param $b1 f32) (param $nb1 f32) (param $b2 f32) (param $nb2 f32)
    (param $c2 f32) (param $step f32) (param $eps f32) (param $lrwd f32)
    (local $i i32) (local $vecEnd i32) (local $o i32)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $u v128)
    (local $gs f32) (local $ms f32) (local $vs f32) (local $us f32)
    (local.set $vecEnd (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $o))) (f32x4.splat (local.get $b1)))
            (f32x4.mul (local.get $gv) (f32x4.splat (local.get $nb1)))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $o))) (f32x4.splat (local.get $b2)))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (local.get $nb2)))))
        (local.set $u
          (f32x4.div
            (f32x4.mul (local.get $mv) (f32x4.splat (local.get $step)))
            (f32x4.add
              (f32x4.sqrt (f32x4.div (local.get $vv) (f32x4.splat (local.get $c2))))
              (f32x4.splat (local.get $eps)))))
        (if (f32.ne (local.get $lrwd) (f32.const 0))
          (then
            (local.set $u
              (f32x4.add
                (local.get $u)
                (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o))) (f32x4.splat (local.get $lrwd)))))))
        (v128.store (i32.add (local.get $m2) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $v2) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $p2) (local.get $o))
          (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $o))) (local.get $u)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $o))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $nb1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $o))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $nb2))))
        (local.set $us
          (f32.div
            (f32.mul (local.get $ms) (local.get $step))
            (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $c2))) (local.get $eps))))
        (if (f32.ne (local.get $lrwd) (f32.const 0))
          (then
            (local.set $us
              (f32.add (local.get $us) (f32.mul (f32.load (i32.add (local.get $p) (local.get $o))) (local.get $lrwd))))))
        (f32.store (i32.add (local.get $m2) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $v2) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $p2) (local.get $o))
          (f32.sub (f32.load (i32.add (local.get $p) (local.get $o))) (local.get $us)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
)
