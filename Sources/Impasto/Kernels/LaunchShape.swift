/// Work-group sizes that fit a kernel on its device: a preferred shape, shrunk (halving the
/// largest dimension) until it respects CL_KERNEL_WORK_GROUP_SIZE and the per-dimension limits.
/// Never a fixed 256 that a smaller device would reject.
enum LaunchShape {
    static func fit(_ preferred: [Int], kernel: Kernel, device: Device) -> [Int] {
        var local = preferred.map { max(1, $0) }
        func fits() -> Bool {
            let dimsOK = local.indices.allSatisfy { d in
                d >= device.maxWorkItemSizes.count || local[d] <= device.maxWorkItemSizes[d]
            }
            return dimsOK && local.reduce(1, *) <= min(kernel.maxWorkGroupSize, device.maxWorkGroupSize)
        }
        while !fits() {
            let d = local.indices.max { local[$0] < local[$1] }!
            local[d] = max(1, local[d] / 2)
            if local.allSatisfy({ $0 == 1 }) { break }
        }
        return local
    }

    /// One-dimensional launches over `n` elements: 64-wide groups where the device allows.
    static func linear(_ kernel: Kernel, device: Device) -> [Int] {
        fit([64], kernel: kernel, device: device)
    }
}

extension Int {
    /// Rounds up to a multiple of `m`.
    func roundedUp(to m: Int) -> Int { (self + m - 1) / m * m }
    /// Integer division rounding up.
    func divRoundUp(_ d: Int) -> Int { (self + d - 1) / d }
}
