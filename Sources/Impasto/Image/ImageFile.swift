import CImageIO
import Foundation

/// Reading and writing PNG and JPEG files. The format is sniffed from the bytes on read and
/// taken from the extension on write; writes go to a temporary file that is renamed into place.
public enum ImageFile {
    public static let defaultMaxPixels = 100_000_000

    public static func read(_ path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let file = try InputFile.Reader(path)  // a regular file, or a one-line error
        if file.size == 0 { throw ImageError("\(InputFile.display(path)): the file is empty") }
        let magic = try file.read(at: 0, count: min(8, file.size))
        var image = imp_image()
        var err = [CChar](repeating: 0, count: 512)
        let status: Int32
        if magic.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            status = imp_read_png(path, Int64(maxPixels), &image, &err, err.count)
        } else if magic.starts(with: [0xFF, 0xD8]) {
            status = imp_read_jpeg(path, Int64(maxPixels), &image, &err, err.count)
        } else {
            throw ImageError("\(InputFile.display(path)): not a PNG or JPEG image")
        }
        if status != 0 { throw ImageError("\(InputFile.display(path)): \(String(cString: err))") }
        defer { imp_free(image.rgb) }
        let count = Int(image.width) * Int(image.height) * 3
        let picture = RGBImage(width: Int(image.width), height: Int(image.height),
                               bytes: UnsafeBufferPointer(start: image.rgb, count: count))
        return picture.oriented(Int(image.orientation))
    }

    public enum Format { case png, jpeg }

    /// The pictures of a folder: the names ending in .png, .jpg or .jpeg (any case), hidden
    /// ones aside, sorted by name; `field` names the folder in the errors (`SettingError`).
    public static func pictureNames(in dir: String, field: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw SettingError(field, "\(InputFile.display(dir)): \(ErrorText.describe(error))")
        }
        let pictures = names.filter { !$0.hasPrefix(".") && ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        guard !pictures.isEmpty else { throw SettingError(field, "\(InputFile.display(dir)) holds no PNG or JPEG pictures") }
        return pictures.sorted()
    }

    public static func format(of path: String) throws -> Format {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "png": return .png
        case "jpg", "jpeg": return .jpeg
        default: throw ImageError("\(path): the output must end in .png, .jpg or .jpeg")
        }
    }

    /// Bits per channel a picture may be written with: 8, or 16 for a PNG (prints and further
    /// editing; the same sRGB-encoded values at 256 times the precision).
    public static let depths = [8, 16]

    /// Writes atomically: a temporary file beside `path`, then a rename, so a reader never sees
    /// half a picture and a failure leaves nothing behind. `depth`: bits per channel (`depths`).
    public static func write(_ image: RGBImage, to path: String, quality: Int = 95, depth: Int = 8) throws {
        let format = try format(of: path)
        guard depths.contains(depth) else { throw ImageError("\(path): \(depth) bits per channel: only 8 or 16") }
        guard depth == 8 || format == .png else { throw ImageError("\(path): 16 bits per channel needs a .png output (JPEG has 8)") }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ImageError("\(path): the directory \(dir.path) does not exist")
        }
        try OutputGuard().checkReplaceable(path, option: "output")
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        PendingFile.set(tmp.path)
        defer { PendingFile.clear() }
        var err = [CChar](repeating: 0, count: 512)
        let bytes = depth == 8 ? image.bytes : []
        let status = bytes.withUnsafeBufferPointer { p -> Int32 in
            switch format {
            case .png where depth == 16:
                let samples = image.pixels.map { UInt16(max(0, min(65535, ($0 * 65535).rounded()))) }
                return samples.withUnsafeBufferPointer {
                    imp_write_png16(tmp.path, $0.baseAddress, Int32(image.width), Int32(image.height), &err, err.count)
                }
            case .png: return imp_write_png(tmp.path, p.baseAddress, Int32(image.width), Int32(image.height), &err, err.count)
            case .jpeg: return imp_write_jpeg(tmp.path, p.baseAddress, Int32(image.width), Int32(image.height),
                                              Int32(max(1, min(100, quality))), &err, err.count)
            }
        }
        if status != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw ImageError("\(path): \(String(cString: err))")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw ImageError("\(path): cannot move the finished image into place (\(reason))")
        }
    }
}

public struct ImageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
