//! CRC-32C (Castagnoli), the checksum `pg_basebackup` writes into
//! `backup_manifest` by default, computed by the `crc` crate (`CRC_32_ISCSI`,
//! table-driven, pure Rust on wasm32 too).

use crc::{CRC_32_ISCSI, Crc, Digest};

static CASTAGNOLI: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// A running CRC-32C.
#[derive(Clone)]
pub struct Crc32c(Digest<'static, u32>);

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c(CASTAGNOLI.digest())
    }
}

impl Crc32c {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn value(&self) -> u32 {
        self.0.clone().finalize()
    }

    /// The checksum as PostgreSQL prints it in a manifest: the four bytes of
    /// the `uint32` in memory order (little-endian), in hex.
    pub fn manifest_hex(&self) -> String {
        crate::backup::hex(&self.value().to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // RFC 3720 appendix B.4 test vectors.
        let mut c = Crc32c::default();
        c.update(&[0u8; 32]);
        assert_eq!(c.value(), 0x8A91_36AA);
        let mut c = Crc32c::default();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xE306_9283);
        // PG_VERSION of a PostgreSQL 15 cluster, from a real backup_manifest.
        let mut c = Crc32c::default();
        c.update(b"15\n");
        assert_eq!(c.manifest_hex(), "8a744722");
    }

    #[test]
    fn incremental_equals_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = Crc32c::default();
        whole.update(&data);
        let mut parts = Crc32c::default();
        for chunk in data.chunks(333) {
            parts.update(chunk);
        }
        assert_eq!(whole.value(), parts.value());
    }
}
