//! CRC-32C (Castagnoli), the checksum `pg_basebackup` writes into
//! `backup_manifest` by default. Table-driven, computed at compile time.

const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// A running CRC-32C.
#[derive(Clone, Copy, Debug)]
pub struct Crc32c(u32);

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c(!0)
    }
}

impl Crc32c {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.0;
        for &b in bytes {
            crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    pub fn value(&self) -> u32 {
        !self.0
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
