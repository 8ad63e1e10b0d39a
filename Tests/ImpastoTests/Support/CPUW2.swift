import Foundation
@testable import Impasto

/// The W2 style loss in float64 on the host, with exact matrix square roots (Jacobi
/// eigendecomposition): the reference `W2Tests` checks `StyleLossOp(kind: .w2)` against.
enum CPUW2 {
    /// Eigenvalues and eigenvectors (columns of `vectors`, row-major n×n) of a symmetric matrix,
    /// by cyclic Jacobi rotations.
    static func eigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        var a = a, v = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in 0..<n where p != q { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 * max(1, (0..<n).reduce(0) { $0 + a[$1 * n + $1] * a[$1 * n + $1] }) { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let cs = 1 / (t * t + 1).squareRoot(), sn = t * cs
                    for k in 0..<n {  // columns p, q of A
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = cs * akp - sn * akq
                        a[k * n + q] = sn * akp + cs * akq
                    }
                    for k in 0..<n {  // rows p, q of A
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = cs * apk - sn * aqk
                        a[q * n + k] = sn * apk + cs * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = cs * vkp - sn * vkq
                        v[k * n + q] = sn * vkp + cs * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }

    /// √X for a symmetric positive semi-definite X (negative rounding clipped to 0).
    static func sqrtm(_ x: [Double], n: Int) -> [Double] {
        let (values, v) = eigen(x, n: n)
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { out[i * n + j] += v[i * n + k] * max(values[k], 0).squareRoot() * v[j * n + k] } } }
        return out
    }

    static func matmul(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for k in 0..<n { let aik = a[i * n + k]; for j in 0..<n { out[i * n + j] += aik * b[k * n + j] } } }
        return out
    }

    static func frobenius(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    static func trace(_ a: [Double], n: Int) -> Double { (0..<n).reduce(0) { $0 + a[$1 * n + $1] } }
    static func shifted(_ a: [Double], n: Int, by s: Double) -> [Double] {
        var a = a
        for i in 0..<n { a[i * n + i] += s }
        return a
    }

    /// The mean and covariance of F (C × N), each pixel weighted by a mask (nil: 1
    /// everywhere): μ = Σₚ mₚ Fₚ / Σm, Σ = Σₚ mₚ Fₚ Fₚᵀ / Σm − μμᵀ.
    static func gaussian(_ f: [Double], c: Int, n: Int, mask: [Double]? = nil) -> (mean: [Double], cov: [Double]) {
        let m = mask ?? [Double](repeating: 1, count: n), area = m.reduce(0, +)
        let mean = (0..<c).map { i in (0..<n).reduce(0) { $0 + m[$1] * f[i * n + $1] } / area }
        var cov = [Double](repeating: 0, count: c * c)
        for i in 0..<c {
            for j in 0..<c { cov[i * c + j] = (0..<n).reduce(0) { $0 + m[$1] * f[i * n + $1] * f[j * n + $1] } / area - mean[i] * mean[j] }
        }
        return (mean, cov)
    }

    /// weight/C · (|μ − μₜ|² + tr Σₜ′ + tr Σ′ − 2 tr √(A Σ′ A)), A = √Σₜ′, with both
    /// covariances shifted by δ = κ·tr Σₜ / C.
    static func loss(mean: [Double], cov: [Double], targetMean: [Double], targetCov: [Double], c: Int, weight: Double,
                     kappa: Double = Double(Kernels.w2Shift)) -> Double {
        let delta = kappa * trace(targetCov, n: c) / Double(c)
        let (covT, cov) = (shifted(targetCov, n: c, by: delta), shifted(cov, n: c, by: delta))
        let a = sqrtm(covT, n: c)
        let cross = trace(sqrtm(matmul(a, matmul(cov, a, n: c), n: c), n: c), n: c)
        let meanTerm = zip(mean, targetMean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return weight / Double(c) * (meanTerm + trace(covT, n: c) + trace(cov, n: c) - 2 * cross)
    }
}
