import ArgumentParser
import Foundation
import Impasto

/// A batch picture job's line: its files and its picture options.
struct PictureLine: ParsableArguments {
    @OptionGroup var picture: PictureOptions
    @OptionGroup var options: StylizeOptions
}

/// A batch video job's line.
struct VideoLine: ParsableArguments {
    @OptionGroup var video: VideoOptions
    @OptionGroup var options: StylizeOptions
}

extension BatchManifest {
    /// A job from its merged arguments: a video when they name frames or an input file.
    static func job(origin: String, arguments: [String]) throws -> BatchJob {
        if arguments.contains("--frames") || arguments.contains("--input") {
            let line = try VideoLine.parse(arguments)
            return BatchJob(origin: origin, work: .video(try line.video.job(line.options)))
        }
        let line = try PictureLine.parse(arguments)
        return BatchJob(origin: origin, work: .picture(try line.picture.job(line.options)))
    }
}
