#include "engine/digest.h"

#include <doctest/doctest.h>

#include <string>

#include "engine/error.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

TEST_CASE("SHA-256 gives the FIPS 180-4 example digests") {
  CHECK(DigestOf("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(DigestOf("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(DigestOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // one million 'a', fed in uneven pieces so that blocks straddle the calls
  Sha256 h;
  const std::string piece(997, 'a');
  std::size_t left = 1000000;
  while (left > 0) {
    const std::size_t n = std::min(left, piece.size());
    h.Update(piece.data(), n);
    left -= n;
  }
  CHECK(h.HexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("a file's digest is the digest of its bytes, a missing file is named") {
  testing::TempDir dir("digest");
  std::string bytes(200000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
  const std::string path = dir.Write("data.bin", bytes);
  CHECK(DigestOfFile(path) == DigestOf(bytes));
  CHECK_THROWS_WITH_AS(DigestOfFile(dir.File("none")), doctest::Contains("none: cannot read"),
                       InputError);
}

TEST_CASE("the short hash is 64-bit FNV-1a: the published test vectors") {
  // Vectors of the FNV reference test suite (Fowler, Noll, Vo): "", "a" and "foobar".
  CHECK(ShortHash("") == "cbf29ce484222325");
  CHECK(ShortHash("a") == "af63dc4c8601ec8c");
  CHECK(ShortHash("foobar") == "85944171f73967e8");
}

}  // namespace
}  // namespace nextbatch
