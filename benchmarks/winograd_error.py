"""Winograd F(m×m, 3×3) in fp32 against fp64 direct correlation, for choosing tile sizes (issue 8).

Builds the transforms for F(4×4,3×3) (points 0, ±1, ±2, ∞) and F(6×6,3×3) (0, ±1, ±2, ±½, ∞) from their points
(A and G from Vandermonde rows, B solved from the bilinear identity in float64 and checked), runs each on random 3×3
convolutions (64 outputs, 320 and 1280 inputs) in fp32, and prints the largest error relative to the output's largest
magnitude, beside fp32 direct convolution's. Then the F(6,3) matrices Sources/CKernels/winograd.c uses (wincnn's
scaling): checked exact in rational arithmetic on random integer tiles, and their fp32 error the same way.
Needs torch (Tests/Fixtures/requirements.txt).

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

# The F(6,3) matrices of Sources/CKernels/winograd.c (PK_WBT, PK_WG, PK_WAT there), exact in rationals.
BT6 = [[1, 0, Fr(-21, 4), 0, Fr(21, 4), 0, -1, 0], [0, 1, 1, Fr(-17, 4), Fr(-17, 4), 1, 1, 0],
       [0, -1, 1, Fr(17, 4), Fr(-17, 4), -1, 1, 0], [0, Fr(1, 2), Fr(1, 4), Fr(-5, 2), Fr(-5, 4), 2, 1, 0],
       [0, Fr(-1, 2), Fr(1, 4), Fr(5, 2), Fr(-5, 4), -2, 1, 0], [0, 2, 4, Fr(-5, 2), -5, Fr(1, 2), 1, 0],
       [0, -2, 4, Fr(5, 2), -5, Fr(-1, 2), 1, 0], [0, -1, 0, Fr(21, 4), 0, Fr(-21, 4), 0, 1]]
G6 = [[1, 0, 0], [Fr(-2, 9)] * 3, [Fr(-2, 9), Fr(2, 9), Fr(-2, 9)], [Fr(1, 90), Fr(1, 45), Fr(2, 45)],
      [Fr(1, 90), Fr(-1, 45), Fr(2, 45)], [Fr(32, 45), Fr(16, 45), Fr(8, 45)], [Fr(32, 45), Fr(-16, 45), Fr(8, 45)], [0, 0, 1]]
AT6 = [[1] * 7 + [0], [0, 1, -1, 2, -2, Fr(1, 2), Fr(-1, 2), 0], [0, 1, 1, 4, 4, Fr(1, 4), Fr(1, 4), 0],
       [0, 1, -1, 8, -8, Fr(1, 8), Fr(-1, 8), 0], [0, 1, 1, 16, 16, Fr(1, 16), Fr(1, 16), 0],
       [0, 1, -1, 32, -32, Fr(1, 32), Fr(-1, 32), 1]]
rng = np.random.default_rng(0)
for _ in range(50):
    d = [Fr(int(v)) for v in rng.integers(-9, 10, 8)]; g = [Fr(int(v)) for v in rng.integers(-9, 10, 3)]
    V = [sum(BT6[i][j] * d[j] for j in range(8)) for i in range(8)]
    U = [sum(G6[i][j] * g[j] for j in range(3)) for i in range(8)]
    assert [sum(AT6[i][k] * U[k] * V[k] for k in range(8)) for i in range(6)] == \
        [sum(d[i + k] * g[k] for k in range(3)) for i in range(6)], "winograd.c's F(6,3) matrices are not exact"
print("winograd.c F(6,3) matrices: exact on 50 random integer tiles")
torch.manual_seed(0)
as_float = lambda t: np.array([[float(v) for v in row] for row in t])
for C, size in ((320, 26), (1280, 26)):
    x = torch.randn(C, size, size, dtype=torch.float64)
    w = torch.randn(64, C, 3, 3, dtype=torch.float64) / (3 * C ** 0.5)
    ref = torch.nn.functional.conv2d(x[None], w)[0]
    hh = (size - 2) // 6 * 6
    y = wino2d(x[:, :hh + 2, :hh + 2], w, as_float(AT6), as_float(G6), as_float(BT6), 6, torch.float32).double()
    r = ref[:, :hh, :hh]
    print(f"C {C}: winograd.c F(6,3): fp32 rel max err {((y - r).abs().max() / r.abs().max()):.2e}")
