import Foundation

/// Sizes are refused before anything is allocated when they cannot fit this machine: a
/// 65536x65536 request must be a one-line error naming the memory it needs, not an abort
/// inside an allocation.
package enum HostMemory {
    /// This machine's physical memory.
    package static var physicalBytes: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Host bytes a stylize run holds per output pixel, at least: several whole pictures as RGB
    /// floats (the content, its colour-controlled form, the result, the last snapshot: 12 bytes
    /// each) and, when tiled, the content targets kept on the host (conv4_4's 512 channels at
    /// 1/64 of the pixels: 32 bytes).
    package static let stylizeBytesPerPixel = 80

    /// Throws unless `bytesPerPixel` × width × height fits the machine's memory.
    package static func check(width: Int, height: Int, bytesPerPixel: Int = stylizeBytesPerPixel, what: String) throws {
        let (pixels, o1) = width.multipliedReportingOverflow(by: height)
        let (need, o2) = pixels.multipliedReportingOverflow(by: bytesPerPixel)
        let have = physicalBytes
        if o1 || o2 || need > have {
            let needText = o1 || o2 ? "more than can be counted" : String(format: "about %.1f GiB", Double(need) / Double(1 << 30))
            throw StyleTransferError("\(what) \(width)x\(height) needs \(needText) of host memory (\(bytesPerPixel) bytes per pixel), more than this machine's \(String(format: "%.1f GiB", Double(have) / Double(1 << 30)))")
        }
    }
}
