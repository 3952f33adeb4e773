/**
 * The extension-protocol domain's error type.
 *
 * @module
 */

/**
 * Raised for an extension message (BEP 10 handshake, ut_metadata, ut_pex) that cannot be used,
 * and for metadata that cannot be assembled; the message is one line meant for the end user.
 *
 * `ignorable` is true when the message was well formed but of a kind we do not know (BEP 9 says
 * unknown ut_metadata message types are to be ignored): the caller may skip it rather than drop
 * the peer.
 */
export class ExtensionError extends Error {
  /** True for well-formed messages of an unknown kind, which should be ignored, not punished. */
  readonly ignorable: boolean;
  constructor(message: string, ignorable = false) {
    super(message);
    this.name = "ExtensionError";
    this.ignorable = ignorable;
  }
}
