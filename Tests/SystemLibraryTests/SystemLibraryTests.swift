import CCurl
import CLibPQ
import CZstd
import Testing

/// Smoke tests: each system library links and answers a call.
@Suite struct SystemLibraryTests {
    @Test func libpqReportsVersion15OrLater() {
        #expect(PQlibVersion() >= 150_000)
        #expect(PQisthreadsafe() == 1)
    }

    @Test func zstdRoundTripsABuffer() {
        #expect(ZSTD_versionNumber() >= 10_400)
        let input = Array(repeating: UInt8(ascii: "a"), count: 10_000)
        var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let size = ZSTD_compress(&compressed, compressed.count, input, input.count, 3)
        #expect(ZSTD_isError(size) == 0)
        #expect(size < 100)
        var output = [UInt8](repeating: 0, count: input.count)
        let restored = ZSTD_decompress(&output, output.count, compressed, size)
        #expect(restored == input.count)
        #expect(output == input)
    }

    @Test func curlShimSetsAndReadsOptions() throws {
        #expect(String(cString: curl_version()).hasPrefix("libcurl/"))
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(lifeboat_curl_setopt_ptr(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        #expect(lifeboat_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 2_000) == CURLE_OK)
        var status = -1
        #expect(lifeboat_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
        #expect(status == 0)
    }
}
