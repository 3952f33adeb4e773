/**
 * The media type of a file from its name's extension, for the few kinds a torrent usually
 * carries: what a player needs in a stream's `Content-Type`, and what Transmission's
 * `primary-mime-type` says of a torrent.
 *
 * @module
 */

const TYPES: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/mp4",
  mkv: "video/x-matroska",
  webm: "video/webm",
  avi: "video/x-msvideo",
  mov: "video/quicktime",
  ts: "video/mp2t",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  flac: "audio/flac",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  pdf: "application/pdf",
  txt: "text/plain; charset=utf-8",
  srt: "text/plain; charset=utf-8",
  vtt: "text/vtt",
};

/**
 * The media type of a file named `name`, from its extension (any case); bytes
 * (`application/octet-stream`) for one not known.
 *
 * @example
 * ```ts
 * import { mediaType } from "./media_type.ts";
 * console.log(mediaType("Film.MKV"), mediaType("notes.txt"), mediaType("data.bin"));
 * // video/x-matroska text/plain; charset=utf-8 application/octet-stream
 * ```
 */
export function mediaType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined) ??
    "application/octet-stream";
}
