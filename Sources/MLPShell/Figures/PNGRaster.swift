internal import CRSVG
import Foundation
import MLPEngine

/// Renders an SVG document to PNG bytes with librsvg and cairo, so that a figure written as
/// PNG is the very SVG figure, rasterised by a real renderer (on white, at `scale` times its
/// size: 1280x960 for the 640x480 figures).
enum PNGRaster {
    static func png(fromSVG svg: String, width: Int, height: Int, scale: Double = 2) throws -> [UInt8] {
        var error: UnsafeMutablePointer<GError>?
        let text = Array(svg.utf8)
        let handle = text.withUnsafeBufferPointer { rsvg_handle_new_from_data($0.baseAddress, gsize($0.count), &error) }
        guard let handle else { throw EngineError("cannot render the figure: \(message(error))") }
        defer { g_object_unref(UnsafeMutableRawPointer(handle)) }
        let w = Int32((Double(width) * scale).rounded()), h = Int32((Double(height) * scale).rounded())
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h) else { throw EngineError("cannot render the figure: no surface") }
        defer { cairo_surface_destroy(surface) }
        guard let cr = cairo_create(surface) else { throw EngineError("cannot render the figure: no drawing context") }
        defer { cairo_destroy(cr) }
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        var viewport = RsvgRectangle(x: 0, y: 0, width: Double(w), height: Double(h))
        guard rsvg_handle_render_document(handle, cr, &viewport, &error) != 0 else {
            throw EngineError("cannot render the figure: \(message(error))")
        }
        cairo_surface_flush(surface)
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        let status = cairo_surface_write_to_png_stream(surface, { closure, data, length in
            let sink = Unmanaged<Sink>.fromOpaque(closure!).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
            return CAIRO_STATUS_SUCCESS
        }, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else { throw EngineError("cannot encode the figure as PNG (cairo status \(status.rawValue))") }
        return sink.bytes
    }

    private static func message(_ error: UnsafeMutablePointer<GError>?) -> String {
        guard let error else { return "unknown error" }
        defer { g_error_free(error) }
        return String(cString: error.pointee.message)
    }
}
