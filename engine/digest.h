// SHA-256 digests of bytes and files, as lowercase hex: what output sets record of their inputs so
// that a later run can tell whether a set is still current; and a short hash for stable names.
#ifndef NEXTBATCH_ENGINE_DIGEST_H_
#define NEXTBATCH_ENGINE_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace nextbatch {

// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, std::size_t size);
  void Update(const std::string& s) { Update(s.data(), s.size()); }
  std::string HexDigest();  // finishes the digest; the object must not be updated afterwards

 private:
  void Block(const unsigned char* p);
  std::uint32_t h_[8];
  unsigned char buffer_[64];
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

std::string DigestOf(const std::string& bytes);
// The digest of a file's contents. Throws InputError naming the path when it cannot be read.
std::string DigestOfFile(const std::string& path);

// 16 lowercase hex digits of the 64-bit FNV-1a hash of `bytes`: a short, stable name (file
// stems, plan item ids), not a digest to trust against tampering.
std::string ShortHash(const std::string& bytes);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_DIGEST_H_
