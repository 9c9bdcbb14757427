"""Winograd F(m×m, 3×3) in fp32 against fp64 direct correlation, for choosing the next tile size (issue 8).

Builds the transforms for F(4×4,3×3) (points 0, ±1, ±2, ∞: what phosphor uses) and F(6×6,3×3) (0, ±1, ±2, ±½, ∞)
from their points (A and G from Vandermonde rows, B solved from the bilinear identity in float64 and checked), runs
each on random 3×3 convolutions (64 outputs, 320 and 1280 inputs) in fp32, and prints the largest error relative to
the output's largest magnitude, beside fp32 direct convolution's. Needs torch (Tests/Fixtures/requirements.txt).

    python benchmarks/winograd_error.py
"""
import numpy as np, torch, itertools
from fractions import Fraction as Fr
def transforms(points, m, r):
    n = m + r - 1
    assert len(points) == n - 1
    P = [Fr(p) for p in points]
    # A^T: m x n, G: n x r (finite points scaled by 1/f_i), last column/row for infinity
    AT = [[P[i] ** j for i in range(n - 1)] + [Fr(1) if j == m - 1 else Fr(0)] for j in range(m)]
    f = [np.prod([P[i] - P[j] for j in range(n - 1) if j != i]) for i in range(n - 1)]
    G = [[P[i] ** k / f[i] for k in range(r)] for i in range(n - 1)] + [[Fr(1) if k == r - 1 else Fr(0) for k in range(r)]]
    # B^T from the bilinear identity, solved exactly in float64 least squares
    AT_, G_ = np.array(AT, dtype=float), np.array(G, dtype=float)
    rows, rhs = [], []
    for j in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros((n, n)); row[:, l] = AT_[j, :] * G_[:, k]
                rows.append(row.ravel()); rhs.append(1.0 if l == j + k else 0.0)
    sol, res, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    BT = sol.reshape(n, n)
    err = np.abs(np.array(rows) @ sol - np.array(rhs)).max()
    return AT_, G_, BT, err
def wino2d(x, w, AT, G, BT, m, dtype):
    # x: [C, H, W] with H, W multiples of m plus padding; w: [O, C, 3, 3]; returns valid correlation via tiles
    n = BT.shape[0]; C, H, W = x.shape; O = w.shape[0]
    AT, G, BT = (torch.tensor(t, dtype=dtype) for t in (AT, G, BT))
    U = torch.einsum('ik,ockl,jl->ijoc', G, w.to(dtype), G)            # [n, n, O, C]
    th, tw = (H - 2) // m, (W - 2) // m
    tiles = x.to(dtype).unfold(1, n, m).unfold(2, n, m)                  # [C, th, tw, n, n]
    V = torch.einsum('ik,ctskl,jl->ijcts', BT, tiles, BT)               # [n, n, C, th, tw]
    M = torch.einsum('ijoc,ijcts->ijots', U, V)
    Y = torch.einsum('ai,ijots,bj->otsab', AT, M, AT)                    # [O, th, tw, m, m]
    return Y.permute(0, 1, 3, 2, 4).reshape(O, th * m, tw * m)
torch.manual_seed(0)
for C, size in ((320, 26), (1280, 26)):
    x = torch.randn(C, size, size, dtype=torch.float64)
    w = torch.randn(64, C, 3, 3, dtype=torch.float64) / (3 * C ** 0.5)
    ref = torch.nn.functional.conv2d(x[None], w)[0]
    for name, pts, m in (("F(4,3) 0,±1,±2", [0, 1, -1, 2, -2], 4), ("F(6,3) 0,±1,±2,±1/2", [0, 1, -1, 2, -2, Fr(1, 2), Fr(-1, 2)], 6)):
        AT, G, BT, e = transforms(pts, m, 3)
        hh = (size - 2) // m * m
        y = wino2d(x[:, :hh + 2, :hh + 2], w, AT, G, BT, m, torch.float32).double()
        r = ref[:, :hh, :hh]
        y64 = wino2d(x[:, :hh + 2, :hh + 2], w, AT, G, BT, m, torch.float64)
        direct32 = torch.nn.functional.conv2d(x[None, :, :hh + 2, :hh + 2].float(), w.float())[0].double()
        print(f"C {C}: {name}: exact-algebra err {e:.1e}, fp64 {((y64 - r).abs().max() / r.abs().max()):.1e}, "
              f"fp32 rel max err {((y - r).abs().max() / r.abs().max()):.2e}  (direct fp32 {((direct32 - r).abs().max() / r.abs().max()):.2e})")
