import Foundation

extension Objectives {
    /// bench and profile run the whole image untiled: refuse a size whose model (built reserved,
    /// nothing allocated) does not fit the device, or whose pictures do not fit the host;
    /// `command` ("profile --size") starts the message.
    package static func checkWholeFits(context: CLContext, width w: Int, height h: Int, what command: String, weights: VGGWeights? = nil) throws {
        try HostMemory.check(width: w, height: h, bytesPerPixel: 48, what: command)
        let need = try Objectives.measureWhole(context: context, weights: weights ?? VGGWeights.random(seed: 1), width: w, height: h,
                                              config: LossConfig())
        let device = context.device
        guard need.total <= Int(device.globalMemBytes), need.largest <= Int(device.maxAllocBytes) else {
            throw StyleTransferError("\(command) \(w)x\(h) needs \(need) of device memory; \(device.name) has \(mebibytes(Int(device.globalMemBytes))), at most \(mebibytes(Int(device.maxAllocBytes))) in one buffer")
        }
    }
}
