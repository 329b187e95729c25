#!/usr/bin/python3
"""analysis_numpy_check.py DIR: recompute with numpy what tests/test_analysis.c computed with the
analysis library (analysis/ana.h) and wrote to DIR as text matrices: PCA variances, explained
fractions and components; linear CKA; the jPCA pipeline's unconstrained and skew-symmetric fits
(M_full from numpy's lstsq, M_skew checked by its optimality condition, both R^2, the rotation
frequencies from numpy's eigenvalues); the psychometric maximum-likelihood optimum (gradient and
log-likelihood recomputed, standard errors from a finite-difference Hessian). Run by
test_analysis (test_numpy_crosscheck); exits 1 naming the first mismatch."""
import sys

import numpy as np

d = sys.argv[1]
fails = []


def load(name):
    return np.atleast_2d(np.loadtxt(f"{d}/{name}.txt"))


def check(what, got, want, tol):
    err = float(np.max(np.abs(np.asarray(got, float) - np.asarray(want, float))))
    ok = err <= tol
    print(f"numpy check: {what}: max |C - numpy| = {err:.2e} (tol {tol:g}) {'ok' if ok else 'FAIL'}")
    if not ok:
        fails.append(what)


# PCA: eigenvalues of the covariance (n - 1), explained fractions, components up to sign.
X = load("pca_X")
w, V = np.linalg.eigh(np.cov(X, rowvar=False))
w, V = w[::-1], V[:, ::-1]
check("PCA variances", load("pca_var")[0], w, 1e-9 * w[0])
check("PCA explained", load("pca_explained")[0], w / w.sum(), 1e-12)
C = load("pca_comps")
check("PCA components (|cos| = 1)", np.abs(np.sum(C * V[:, : len(C)].T, axis=1)), 1, 1e-9)

# CKA (Kornblith et al. 2019), linear, column-centred.
A, B = load("cka_X"), load("cka_Y")
A, B = A - A.mean(0), B - B.mean(0)
cka = np.linalg.norm(B.T @ A) ** 2 / (np.linalg.norm(A.T @ A) * np.linalg.norm(B.T @ B))
check("CKA", load("cka")[0, 0], cka, 1e-12)

# jPCA: the same pipeline, independently written.
r2_full, r2_skew, expl, dt, conds = load("jpca_results")[0]
conds = int(conds)
Mf, Ms = load("jpca_M_full"), load("jpca_M_skew")
k = Mf.shape[0]
J = load("jpca_X")
T = J.shape[0] // conds
J = J.reshape(conds, T, -1)
J = J - J.mean(0, keepdims=True)
flat = J.reshape(conds * T, -1)
flat = flat - flat.mean(0)
u, s, vt = np.linalg.svd(flat, full_matrices=False)
check("jPCA PCs explained", expl, (s[:k] ** 2).sum() / (s**2).sum(), 1e-10)
Y = (flat @ vt[:k].T).reshape(conds, T, k)
# The C side fixes each component's sign (largest entry positive); do the same.
sign = np.sign(vt[:k][np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
Y = Y * sign
dY = ((Y[:, 1:] - Y[:, :-1]) / dt).reshape(-1, k)
Ym = ((Y[:, 1:] + Y[:, :-1]) / 2).reshape(-1, k)
Bf = np.linalg.lstsq(Ym, dY, rcond=None)[0]
check("jPCA M_full", Mf, Bf.T, 1e-8 * np.abs(Bf).max())


def r2(M):
    return 1 - np.sum((dY - Ym @ M.T) ** 2) / np.sum(dY**2)


check("jPCA R2 full", r2_full, r2(Bf.T), 1e-10)
check("jPCA R2 skew", r2_skew, r2(Ms), 1e-10)
check("jPCA M_skew skew-symmetric", Ms, -Ms.T, 0)
# Optimality of the skew fit: the gradient of |dY - Ym M^T|^2 projected on skew matrices is zero.
E = dY - Ym @ Ms.T
G = E.T @ Ym
check("jPCA M_skew optimality (skew part of E^T Xm)", (G - G.T) / np.abs(G).sum(), 0, 1e-9)
ev = np.sort(np.abs(np.linalg.eigvals(Ms).imag))[::-1][::2] / (2 * np.pi)
check("jPCA frequencies (Hz)", load("jpca_freq")[0], ev, 1e-9 * ev[0])

# Psychometric maximum likelihood.
c, y = load("psy_coh")[0], load("psy_choice")[0]
b, sl, la, se_b, se_s, se_l, ll = load("psy_results")[0]


def loglik(t):
    p = t[2] / 2 + (1 - t[2]) / (1 + np.exp(-(c - t[0]) / t[1]))
    return np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))


t0 = np.array([b, sl, la])
check("psychometric log-likelihood", ll, loglik(t0), 1e-8 * abs(ll))
h = np.array([1e-5, 1e-5, 1e-5])
grad = np.array([(loglik(t0 + h * e) - loglik(t0 - h * e)) / (2 * h[i]) for i, e in enumerate(np.eye(3))])
check("psychometric gradient at the optimum (scaled by the SEs)", grad * [se_b, se_s, se_l], 0, 1e-3)
H = np.zeros((3, 3))
for i in range(3):
    for j in range(3):
        ei, ej = np.eye(3)[i] * 1e-4, np.eye(3)[j] * 1e-4
        H[i, j] = (loglik(t0 + ei + ej) - loglik(t0 + ei - ej) - loglik(t0 - ei + ej) + loglik(t0 - ei - ej)) / 4e-8
se = np.sqrt(np.diag(np.linalg.inv(-H)))
print(f"numpy check: psychometric SEs (observed information) {se}, C (Fisher) {[se_b, se_s, se_l]}")
check("psychometric SEs (relative)", np.array([se_b, se_s, se_l]) / se, 1, 0.1)

if fails:
    print("numpy check FAILED:", ", ".join(fails))
    sys.exit(1)
print("numpy check: all agree")
