//! Framing and decoding of the messages a PostgreSQL client sends.
//!
//! The bytes come from an untrusted socket, so this decoder is ours rather than pgwire's:
//! pgwire's frontend decoders read counts and lengths from the body without checking them
//! against what is left (`get_u16` on an empty buffer panics, and a Bind naming a
//! 1000-byte parameter in a 10-byte body splits past the frame). Here every read is
//! bounds-checked against the frame, and a frame's body must be consumed exactly.
//! pgwire still encodes everything we send back.
//!
//! # Frames
//!
//! ```text
//!   startup phase (no type byte):  int32 length (self included) | int32 code | body
//!       code 80877103 SSLRequest, 80877104 GSSENCRequest, 80877102 CancelRequest,
//!       otherwise protocol version (major << 16 | minor) of a StartupMessage whose body is
//!       { cstring name | cstring value }* 0x00
//!   afterwards:                    byte type | int32 length (self included) | body
//! ```
//!
//! A startup frame is at most [`MAX_STARTUP_LENGTH`] bytes (PostgreSQL's
//! `MAX_STARTUP_PACKET_LENGTH`); a typed frame's length must be at least 4 and at most
//! the configured limit, checked before any of the body is buffered, so an oversized or
//! garbage length closes the connection instead of growing the buffer.
//!
//! # Bodies (after the length)
//!
//! ```text
//!   'Q' Query     cstring sql
//!   'P' Parse     cstring name | cstring sql | int16 n | int32 type-oid * n
//!   'B' Bind      cstring portal | cstring statement | int16 nf | int16 format * nf
//!                 | int16 np | { int32 len (-1 = NULL) | byte * len } * np
//!                 | int16 nr | int16 result-format * nr
//!   'D' Describe  byte 'S'|'P' | cstring name
//!   'E' Execute   cstring portal | int32 max-rows (0 = all)
//!   'C' Close     byte 'S'|'P' | cstring name
//!   'S' Sync, 'H' Flush, 'X' Terminate: empty
//!   'd' CopyData  byte * (the rest of the frame)
//!   'c' CopyDone  empty
//!   'f' CopyFail  cstring message
//!   'p' password family, kept whole; the authentication state says which it is:
//!       PasswordMessage      cstring password (or MD5 response)
//!       SASLInitialResponse  cstring mechanism | int32 n (-1 = none) | byte * n
//!       SASLResponse         byte * (rest of the body)
//!   'F' function call: recognised, body kept opaque (we answer it with an error)
//! ```

use bytes::{Buf, BytesMut};

use super::errors::PgError;

/// Longest startup-phase frame (PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_LENGTH: usize = 10_000;
const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// Describe and Close name either a prepared statement or a portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

/// One decoded frontend message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frontend {
    SslRequest,
    GssEncRequest,
    CancelRequest {
        pid: i32,
        secret: Vec<u8>,
    },
    Startup {
        major: u16,
        minor: u16,
        params: Vec<(String, String)>,
    },
    Query(String),
    Parse {
        name: String,
        sql: String,
        param_oids: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Vec<u8>>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: Target,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        target: Target,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    /// A password-family message ('p'), body undecoded: see [`password_message`],
    /// [`sasl_initial_response`], [`sasl_response`].
    Password(Vec<u8>),
    CopyData(Vec<u8>),
    CopyDone,
    CopyFail(String),
    /// A message we recognise but do not implement (function call).
    Unsupported(u8),
}

/// Splits the next complete message off `buf` and decodes it. `Ok(None)`: not all of it
/// has arrived. `startup`: the connection is still in the startup phase (untyped frames).
/// `max_len`: the largest typed frame accepted.
pub fn next_message(
    buf: &mut BytesMut,
    startup: bool,
    max_len: usize,
) -> Result<Option<Frontend>, PgError> {
    let header = if startup { 4 } else { 5 };
    if buf.len() < header {
        return Ok(None);
    }
    let kind = if startup { 0 } else { buf[0] };
    let len_at = header - 4;
    let length = i32::from_be_bytes([
        buf[len_at],
        buf[len_at + 1],
        buf[len_at + 2],
        buf[len_at + 3],
    ]);
    let (min, max) = if startup {
        (8, MAX_STARTUP_LENGTH)
    } else {
        (4, max_len)
    };
    let length_ok = usize::try_from(length).is_ok_and(|l| (min..=max).contains(&l));
    if !length_ok {
        return Err(PgError::MessageLength {
            kind: if startup { '0' } else { kind as char },
            length: length.into(),
        });
    }
    // Checked above: min <= length <= max.
    let total = len_at + length as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let frame = buf.split_to(total);
    let body = &frame[header..];
    if startup {
        decode_startup(body).map(Some)
    } else {
        decode_typed(kind, body).map(Some)
    }
}

fn decode_startup(body: &[u8]) -> Result<Frontend, PgError> {
    let mut r = Reader::new(body, "startup");
    let code = r.i32()?;
    match code {
        SSL_REQUEST => r.finish(Frontend::SslRequest),
        GSSENC_REQUEST => r.finish(Frontend::GssEncRequest),
        CANCEL_REQUEST => {
            let pid = r.i32()?;
            let secret = r.rest().to_vec();
            Ok(Frontend::CancelRequest { pid, secret })
        }
        version => {
            let major = (version >> 16) as u16;
            let minor = (version & 0xffff) as u16;
            if major != 3 {
                return Err(PgError::UnsupportedProtocol { major, minor });
            }
            let mut params = Vec::new();
            loop {
                let name = r.cstr()?;
                if name.is_empty() {
                    break;
                }
                params.push((name, r.cstr()?));
            }
            r.finish(Frontend::Startup {
                major,
                minor,
                params,
            })
        }
    }
}

fn decode_typed(kind: u8, body: &[u8]) -> Result<Frontend, PgError> {
    let name = match kind {
        b'Q' => "Query",
        b'P' => "Parse",
        b'B' => "Bind",
        b'D' => "Describe",
        b'E' => "Execute",
        b'C' => "Close",
        b'f' => "CopyFail",
        b'c' => "CopyDone",
        _ => "",
    };
    let mut r = Reader::new(body, name);
    let message = match kind {
        b'Q' => Frontend::Query(r.cstr()?),
        b'P' => {
            let name = r.cstr()?;
            let sql = r.cstr()?;
            let n = r.count()?;
            let param_oids = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Frontend::Parse {
                name,
                sql,
                param_oids,
            }
        }
        b'B' => decode_bind(&mut r)?,
        b'D' | b'C' => {
            let target = match r.u8()? {
                b'S' => Target::Statement,
                b'P' => Target::Portal,
                _ => return Err(r.malformed("target is neither 'S' nor 'P'")),
            };
            let name = r.cstr()?;
            if kind == b'D' {
                Frontend::Describe { target, name }
            } else {
                Frontend::Close { target, name }
            }
        }
        b'E' => Frontend::Execute {
            portal: r.cstr()?,
            max_rows: r.i32()?,
        },
        b'S' => Frontend::Sync,
        b'H' => Frontend::Flush,
        b'X' => Frontend::Terminate,
        b'p' => Frontend::Password(r.rest().to_vec()),
        b'd' => Frontend::CopyData(r.rest().to_vec()),
        b'c' => Frontend::CopyDone,
        b'f' => Frontend::CopyFail(r.cstr()?),
        b'F' => {
            r.rest();
            Frontend::Unsupported(kind)
        }
        other => return Err(PgError::UnexpectedMessage(other)),
    };
    r.finish(message)
}

fn decode_bind(r: &mut Reader<'_>) -> Result<Frontend, PgError> {
    let portal = r.cstr()?;
    let statement = r.cstr()?;
    let nf = r.count()?;
    let param_formats = (0..nf).map(|_| r.i16()).collect::<Result<_, _>>()?;
    let np = r.count()?;
    let mut params = Vec::with_capacity(np.min(r.remaining() / 4));
    for _ in 0..np {
        let len = r.i32()?;
        params.push(match len {
            -1 => None,
            l if l < 0 => return Err(r.malformed("negative parameter length")),
            l => Some(r.bytes(l as usize)?.to_vec()),
        });
    }
    let nr = r.count()?;
    let result_formats = (0..nr).map(|_| r.i16()).collect::<Result<_, _>>()?;
    Ok(Frontend::Bind {
        portal,
        statement,
        param_formats,
        params,
        result_formats,
    })
}

/// A PasswordMessage body: the password (or MD5 response).
pub fn password_message(body: &[u8]) -> Result<String, PgError> {
    let mut r = Reader::new(body, "PasswordMessage");
    let password = r.cstr()?;
    r.finish(Frontend::Sync)?;
    Ok(password)
}

/// A SASLInitialResponse body: the mechanism and the client's first message, if any.
pub fn sasl_initial_response(body: &[u8]) -> Result<(String, Option<Vec<u8>>), PgError> {
    let mut r = Reader::new(body, "SASLInitialResponse");
    let mechanism = r.cstr()?;
    let data = match r.i32()? {
        -1 => None,
        n if n < 0 => return Err(r.malformed("negative data length")),
        n => Some(r.bytes(n as usize)?.to_vec()),
    };
    r.finish(Frontend::Sync)?;
    Ok((mechanism, data))
}

/// A SASLResponse body: the mechanism's message, all of it.
pub fn sasl_response(body: &[u8]) -> Vec<u8> {
    body.to_vec()
}

/// A bounds-checked cursor over one message body.
struct Reader<'a> {
    buf: &'a [u8],
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str) -> Reader<'a> {
        Reader { buf, message }
    }

    fn malformed(&self, reason: &'static str) -> PgError {
        PgError::Malformed {
            message: self.message,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], PgError> {
        if self.buf.len() < n {
            return Err(self.malformed("body shorter than its fields"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, PgError> {
        Ok(self.bytes(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, PgError> {
        Ok(self.bytes(2)?.get_i16())
    }

    fn i32(&mut self) -> Result<i32, PgError> {
        Ok(self.bytes(4)?.get_i32())
    }

    fn u32(&mut self) -> Result<u32, PgError> {
        Ok(self.bytes(4)?.get_u32())
    }

    /// An int16 element count, which must not be negative.
    fn count(&mut self) -> Result<usize, PgError> {
        usize::try_from(self.i16()?).map_err(|_| self.malformed("negative count"))
    }

    /// A NUL-terminated UTF-8 string.
    fn cstr(&mut self) -> Result<String, PgError> {
        let Some(end) = self.buf.iter().position(|&b| b == 0) else {
            return Err(self.malformed("unterminated string"));
        };
        let s = std::str::from_utf8(&self.buf[..end]).map_err(|_| PgError::InvalidUtf8)?;
        self.buf = &self.buf[end + 1..];
        Ok(s.to_string())
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn finish(&self, message: Frontend) -> Result<Frontend, PgError> {
        if self.buf.is_empty() {
            Ok(message)
        } else {
            Err(self.malformed("trailing bytes after the last field"))
        }
    }
}

#[cfg(test)]
#[path = "frontend_tests.rs"]
mod tests;
