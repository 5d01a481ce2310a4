/* test_srp.c - the SRP-6a core and the srp auth method's internals
 * (docs/internals/auth.md, SRP): the RFC 5054 Appendix B vectors (1024-bit group, SHA-1)
 * and the coffer profile vectors (3072-bit group, g = 5, SHA-256) through the
 * same code, then the negative cases, sessions, lockout and the
 * per-address limit with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/srp6a.h"
#include "auth/srp/srp_int.h"
#include "lib/err.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec {
	const char *I, *P;
	const char *s, *N, *k, *x, *v, *a, *b, *A, *B, *u, *S, *K, *M1, *M2;
};

/* RFC 5054 Appendix B (docs/internals/auth.md, SRP), generated from the RFC's table. */
static const struct vec rfc5054 = {
        .I = "alice",
        .P = "password123",
        .s = "beb25379d1a8581eb5a727673a2441ee",
        .N = "eeaf0ab9adb38dd69c33f80afa8fc5e86072618775ff3c0b9ea2314c9c256576"
             "d674df7496ea81d3383b4813d692c6e0e0d5d8e250b98be48e495c1d6089dad1"
             "5dc7d7b46154d6b6ce8ef4ad69b15d4982559b297bcf1885c529f566660e57ec"
             "68edbc3c05726cc02fd4cbf4976eaa9afd5138fe8376435b9fc61d2fc0eb06e3",
        .k = "7556aa045aef2cdd07abaf0f665c3e818913186f",
        .x = "94b7555aabe9127cc58ccf4993db6cf84d16c124",
        .v = "7e273de8696ffc4f4e337d05b4b375beb0dde1569e8fa00a9886d8129bada1f1"
             "822223ca1a605b530e379ba4729fdc59f105b4787e5186f5c671085a1447b52a"
             "48cf1970b4fb6f8400bbf4cebfbb168152e08ab5ea53d15c1aff87b2b9da6e04"
             "e058ad51cc72bfc9033b564e26480d78e955a5e29e7ab245db2be315e2099afb",
        .a = "60975527035cf2ad1989806f0407210bc81edc04e2762a56afd529ddda2d4393",
        .b = "e487cb59d31ac550471e81f00f6928e01dda08e974a004f49e61f5d105284d20",
        .A = "61d5e490f6f1b79547b0704c436f523dd0e560f0c64115bb72557ec44352e890"
             "3211c04692272d8b2d1a5358a2cf1b6e0bfcf99f921530ec8e39356179eae45e"
             "42ba92aeaced825171e1e8b9af6d9c03e1327f44be087ef06530e69f66615261"
             "eef54073ca11cf5858f0edfdfe15efeab349ef5d76988a3672fac47b0769447b",
        .B = "bd0c61512c692c0cb6d041fa01bb152d4916a1e77af46ae105393011baf38964"
             "dc46a0670dd125b95a981652236f99d9b681cbf87837ec996c6da04453728610"
             "d0c6ddb58b318885d7d82c7f8deb75ce7bd4fbaa37089e6f9c6059f388838e7a"
             "00030b331eb76840910440b1b27aaeaeeb4012b7d7665238a8e3fb004b117b58",
        .u = "ce38b9593487da98554ed47d70a7ae5f462ef019",
        .S = "b0dc82babcf30674ae450c0287745e7990a3381f63b387aaf271a10d233861e3"
             "59b48220f7c4693c9ae12b0a6f67809f0876e2d013800d6c41bb59b6d5979b5c"
             "00a172b4a2a5903a0bdcaf8a709585eb2afafa8f3499b200210dcc1f10eb3394"
             "3cd67fc88a2f39a4be5bec4ec0a3212dc346d7e474b29ede8a469ffeca686e5a",
};

/* The coffer profile (docs/internals/auth.md, SRP), generated from the tables there. */
static const struct vec profile[] = {
        {
                .I = "alice",
                .P = "password123",
                .s = "beb25379d1a8581eb5a727673a2441ee",
                .a = "60975527035cf2ad1989806f0407210bc81edc04e2762a56afd529ddda2d4393",
                .b = "e487cb59d31ac550471e81f00f6928e01dda08e974a004f49e61f5d105284d20",
                .k = "081f4874fa543a371b49a670402fda59ecfab53a1b850fc42e1c357cc846111e",
                .x = "0065ac38dff8bc34ae0f259e91fbd0f4ca2fa43081c9050cec7cac20d015f303",
                .v = "ebe52c3cac712e0be1ba08d4dae9d38c960c3f092ed0ee375b12173b1cbe8c2d"
                     "3380eb4b38f0c529b3c5b207226c2b4c7741249d965a1437abe480b1bb331584"
                     "673e6e0b83daaf3b2fa370f10dc3b8d599b419133bce88a42cc2675543563faa"
                     "999d939e90c1c8e7024b906811faa9034512890e21b07135a1ad306380aa5c94"
                     "62a21e0d635a20b076091145f8f1c0166efde224af4d0ce5ffb9857ddac93875"
                     "758e4f191131f5837e3dd5bbf8c3242879d0bd7bc9f75a0e492804c69b4fbac8"
                     "ec02844729a565b859f176e8fff9348deb0ff1ee429c2fffc14af6764dc0c457"
                     "8d41cd3907e21cde6db94aa64fb79113dde08144c77b404d15addb04d001579d"
                     "19bfa16830da366a7476a29aadcdef47423ca652f773eb0457c0816683913b63"
                     "f15a4b17d2bbf3da2dbf976fe5bf66db1cd5a02f0f4765bc636ebe151d95031c"
                     "6a3fc285c3df130be7cc7281f3664fecacb66be80571551d15a71b0599ef76b8"
                     "793f1e75eb611f33dd33a046d9c476df84c76c5fa85b6627e6c38756c84b271a",
                .A = "fab6f5d2615d1e323512e7991cc37443f487da604ca8c9230fcb04e541dce628"
                     "0b27ca4680b0374f179dc3bdc7553fe62459798c701ad864a91390a28c93b644"
                     "adbf9c00745b942b79f9012a21b9b78782319d83a1f8362866fbd6f46bfc0ddb"
                     "2e1ab6e4b45a9906b82e37f05d6f97f6a3eb6e182079759c4f6847837b62321a"
                     "c1b4fa68641fcb4bb98dd697a0c73641385f4bab25b793584cc39fc8d48d4bd8"
                     "67a9a3c10f8ea12170268e34fe3bbe6ff89998d60da2f3e4283cbec1393d52af"
                     "724a57230c604e9fbce583d7613e6bffd67596ad121a8707eec4694495703368"
                     "6a155f644d5c5863b48f61bdbf19a53eab6dad0a186b8c152e5f5d8cad4b0ef8"
                     "aa4ea5008834c3cd342e5e0f167ad04592cd8bd279639398ef9e114dfaaab919"
                     "e14e850989224ddd98576d79385d2210902e9f9b1f2d86cfa47ee244635465f7"
                     "1058421a0184be51dd10cc9d079e6f1604e7aa9b7cf7883c7d4ce12b06ebe160"
                     "81e23f27a231d18432d7d1bb55c28ae21ffcf005f57528d15a88881bb3bbb7fe",
                .B = "e4e338879ef55928d8c6242187fc514f5118675749ecbdd76cbd01759ff6f943"
                     "99e655fe92d656bedfebfe5f4444be01c74ef747f11a7deb67ac99ef9837bc37"
                     "e5a2c94ccbac1b1b12a1e9be0eb0ae5e0f74b314e3a7625b2e11364dfba043ee"
                     "facc9da0bb0aa14f3806b079fadb55abb1362cc8090924fa13e30f4198dc3fcf"
                     "012d69c8eb32e4a93126a830f37709c07dfdf8e66c0fa6d00ad4efc3f03956cb"
                     "b06f7d2739c14f8bf057ca9282117659114dc265535f7a49db4fefe558a36d80"
                     "b96bddb96feba4bfc62be99b19b7bf363d59c0e47d1465ad768df7b0f4c4a3be"
                     "2ab58c9f60591c485b96a0d02481a58c7df3926d4df09a80b80f197cf3c4e20c"
                     "b8bd6fb4951fe3289c1774a96581e2489f19f0f8671e0fd7547c212fa328b7b9"
                     "3039fec06e55fa7bb2cc373ba1c5f3abaf10f2a42dbe741421757709c9d23440"
                     "ff2a256f9909b04ebacabf95efcd5676c74bb4f7f4a188643511cb64fa5f0080"
                     "9dea47998fba13c8eb5de902e89870ec1ea189de5e5d6a990391fd324644f83f",
                .u = "250bbec635f367f772c0ecbd993c068f98d08480251209dd0599784a6473d129",
                .S = "b15cbaf557c03f0e657550a2aea0ad2ef92a76d1cff2f078597504754f540498"
                     "f891ea952c85ccb74b6a9af22990364db8a55d424745a97ef0ac43c03d3a0b36"
                     "bd1145a2e7db880d42283cf3541f960b33afbd1d39bc9bb6d34f3ac9844e796f"
                     "4fb5724d906bf28961062248f229327ef5c57e6fc754bb5decb56c021079e9ef"
                     "8a0b1f2b5f8571c2eb14c04b7d794b1e8bf17b9940ff466d3a337f361e41eb52"
                     "a7a48d478d0cbc470e2e10dca3120f0b0c41c69bb5bf0510f67e9981dd5c6a11"
                     "61259a18b7c795002f1c7bdde398372ffea2dcf70c6217540af8c4ca3d5e0f33"
                     "4c281339fbcfe736236196ab12666ee6e46d4a8ba3999671ea54c5896392d7fe"
                     "1aaf493832a3be150906bdc27b6cb0735575f5f32a799242f543c444340ca7f1"
                     "1589308b0b479f82fa2cc321935e82a3a5d628db2329e6657fde217d3010246c"
                     "7de650e2439d2e0bdd0fd5b7ee97408dec362490916f82698db530cfd17b35c9"
                     "3107780453cb598b390da1391d01757c18b67488f800e8576408a8464e0d53fc",
                .K = "468f4bb304eb97c9c5141ba81e44369a929c3aa7d695078cc7ed7761915d0396",
                .M1 = "c5bea29ec22dc8bdfd4f7ac1e2c3438beeb58fe767bf31b6d444838efe0a6603",
                .M2 = "8481e8dd0e76f3f23c52a96a27e4ae550a98279e326a3e27bf57e3b11d77632b",
        },
        {
                .I = "bob@example.com",
                .P = "correct horse battery staple",
                .s = "00c32d29d44636d472a7d42435430a73cf030b0819829f2f0c809d1680b8a7b6",
                .a = "de2c3079a9a567f500e267444074ec8ddcd0c8e7ca0afba0bf967bb1c1823edd",
                .b = "9682fe9a407f359cea9be8d4bab14ba9bb96bf2e4cdff803f06fb88b1ac66457",
                .k = "081f4874fa543a371b49a670402fda59ecfab53a1b850fc42e1c357cc846111e",
                .x = "6e8d0a3affe417c1f9d36243dee8d73844990bb93c475c3c6280544e72829c68",
                .v = "5c60ee803baa0144ecd824d213f3c5c8d37a575962785231c3f2eee45e06e928"
                     "2842ef80603af202a21f6133cf4078efb61ae6e27663da4f0e2ed09011270926"
                     "fad22fea14fdebefd309aabce7ab1aedc4041b778fe21c68ce834786df0501cb"
                     "767e17bff3147e28ccbc29626bc401659fb220e13a046403b645d966a3b85ac4"
                     "ae39b395c018a64f17384eea6c85f00a595a0bce47d86e3d45a4c7d4b2d1f701"
                     "b829920cea0498a8996773ab28bfaacfa9cace0e4b9e61d7802cabe338949aae"
                     "246f98330abfbccdc028d76afca3bdbd752aa64a42a702d402d4de4ed627a04f"
                     "75ee727ff1a7787a1608cc1e863b7c3b3910dd93c3458e780b9481cd86679143"
                     "e88ed57e47750fd7cace38990494e78f78aecce16b77a9bd024902976b563073"
                     "cba4f56d221e6c8e1eaa56278762901ccdc963e15173509560ae9f7838f72c77"
                     "eb5da5fef09b9b049381f70693d0e42b327b4135b50f1672748f453486753636"
                     "f22a36aa5455e22147c2f4bf4b2475927e9832a87e72efd87ad7cf2fc536739c",
                .A = "0028972e983b9019c68892a06e7ea014978e95c0c48601ac8a74dbb55cfdaf59"
                     "b6ccc553c70acf688622262ff574b72fea1181b62b8386b9caaec02fda900509"
                     "6110fc411c79392cd7a5a210a09098c775d11286d9a58bbd3ce54003aabc866b"
                     "2c4638a768894237631d54d7acde7691ed1f510eb043abb0db5d168103750ddc"
                     "e1ca2d5d11883707f14150e362bbf6a5d062f9da057bb6f8ce74191ea02ac61c"
                     "30821d24f5ac63c08b9232dcdec444b013e02daf82abfae4131f832d36001193"
                     "d205e8bee6d267639d4d2d934f7b547cb27b2e5b7e2905c381d358a78dfb1969"
                     "d12a01afc47194ec1e33ad9e41300f63c7d5066af48200f307992196ca5998ac"
                     "8dbd87852ef6092f3be8929bd58cf42b823869ef76a16aee518839ac364def30"
                     "313b6892467a3e9bf77fd9e5aa118faf6a4838fbc23c68bd8f721a15c820d742"
                     "2b57d589868718d0a10238511671e96c9053bd4f24e570be1cb11e690ce0667b"
                     "58ba701a494be242ef4188d2e62896eda041df9e897a409dddd71a82f8536e2e",
                .B = "6481cae25a765d83240b6998bdb5a0793f22c91eee7bd5e68fd7b23a651d0c6e"
                     "1f76a6a1d7bbc42772086806cd8857c3c52dbfd05bdfa6b3660ded919af34dca"
                     "46c8944b07d416510d6504a9a36cda10d2b7835ea2ceb2f3a5c5ebfbd8173601"
                     "1ff7844502291875013909844a868ca621d28f5e45550e196379d939e557feec"
                     "069634b7d6dad17a271c84f778c80508254930e726601b7c370e45a5c2c7c52b"
                     "23b8dd0a54d78ccbf3973caace5a2903904a8155cf329da84fbb7d6e108c726c"
                     "def128a898bfa969b314a2b398a31428d62da3ee5c6ddaa55dbec9e194f9606f"
                     "b523155728a54b0c92e1493c8663e07a607c3dd4e23c74ea24b6b2781e08fcdd"
                     "02a44bb483a7ba2e0c831acc93e271ee52656cb2448d19fb83f595fe7bd52412"
                     "fa0b53b0c8a7ace66f2235217ae0de5ec0d4e0b1cf157d9812d7cb70e544f2c8"
                     "9bb7c155a5dacdb8da52ac22bb9d98a69e9acd752a11177b7dcdc697fecc217c"
                     "4a80cd94cbff868c92087c56fbb6fa5b5e39e0ada05055f0f1e05ea863c8829f",
                .u = "087b7c1a877a4f2d2c04732adc12c62eef71e0b5b3cbee76a413765980409c4f",
                .S = "93c8e9581bcb1808daece4d667ea2944cfb125d537c11b934728cefbb9eafecb"
                     "7c4a5cefc81b600c728ed72604345bbc350e07fd7d49a66eb4722a17b3894971"
                     "d4593fe7cec26f190bd0e719db66fbe53dd50d08a4b60398c235a8c18e3c6066"
                     "1a4b92c667645414257a479b23b95cca11a635e535c1525fca2407c3bf3dc445"
                     "3dc935656c3c5e54b3d58158f2ab5f41179b20d87ffac21c38df1fd67ca51aa4"
                     "752ca8d6ca82c13bf1ef5964ee0928f0129c20e2143450e9d8c3c9ebb53185c0"
                     "186371609be0c0ecc6fe4984485fa7aaa9d80de4b6fbd9f735f062e4695ef966"
                     "4edff29926a88c495908cbc24bfd3c46af7204d740401fdede8dd408da8015e5"
                     "04e9b3ff11e8baf91efdf723063fc7d9c8e95f71ac89f0304957978f2ebea9cc"
                     "ccb77a86b60fafe9c295956c4e40921489360c9f7822a3b437adc735d6b12cf6"
                     "16425c53a27ff5e6e12ab66ff94854514882dc146f4fa6ea65b9624d094453f8"
                     "46459f0bf25c167648d8cb8166f9b8d16217a18bf7c2b2180f5cad5bed183050",
                .K = "72841de16665913611510b93103023cb53f50556bacdafa385edf88dc291214d",
                .M1 = "663a3c7a0fe0202a5f3c2d2dee4894ea6e390210358af7bf2a3522e0e66235c2",
                .M2 = "dbbb4aab04cf1646d71016e148ad96e27e175c1bed55864eac66590f75a91daf",
        },
};

/* ---- helpers ---- */

static uint8_t *
unhex(const char *hex, size_t *ret_len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out = malloc(n ? n : 1);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	*ret_len = n;
	return out;
}

/* Checks that got (len bytes) equals hex, left-padded with zeros to len. */
static void
check_hex(const uint8_t *got, size_t len, const char *hex, const char *what)
{
	size_t n;
	uint8_t *want = unhex(hex, &n), *pad = calloc(1, len);

	assert_non_null(pad);
	assert_true(n <= len);
	memcpy(pad + len - n, want, n);
	if (memcmp(got, pad, len) != 0) {
		fprintf(stderr, "mismatch in %s\n", what);
		fail();
	}
	free(want);
	free(pad);
}

/* Runs every computation of the vector and checks each value. */
static void
run_vector(const struct srp6a_group *grp, const struct vec *t, bool full)
{
	size_t nl = srp6a_nlen(grp), hl = srp6a_hlen(grp), sl, al, bl, vl, Al, Bl;
	uint8_t *s = unhex(t->s, &sl), *a = unhex(t->a, &al), *b = unhex(t->b, &bl);
	uint8_t *v0 = unhex(t->v, &vl), *A0 = unhex(t->A, &Al), *B0 = unhex(t->B, &Bl);
	uint8_t k[SRP6A_MAX_HASH], x[SRP6A_MAX_HASH], u[SRP6A_MAX_HASH], K[SRP6A_MAX_HASH],
	        m1[SRP6A_MAX_HASH], m2[SRP6A_MAX_HASH];
	uint8_t v[SRP6A_MAX_N], A[SRP6A_MAX_N], B[SRP6A_MAX_N], Ss[SRP6A_MAX_N], Sc[SRP6A_MAX_N];

	assert_int_equal(srp6a_k(grp, k), 0);
	check_hex(k, hl, t->k, "k");
	assert_int_equal(srp6a_x(grp, s, sl, t->I, strlen(t->I), t->P, strlen(t->P), x), 0);
	check_hex(x, hl, t->x, "x");
	assert_int_equal(srp6a_pow_g(grp, x, hl, v), 0);
	check_hex(v, nl, t->v, "v");
	assert_int_equal(srp6a_pow_g(grp, a, al, A), 0);
	check_hex(A, nl, t->A, "A");
	assert_int_equal(srp6a_server_B(grp, v, b, bl, B), 0);
	check_hex(B, nl, t->B, "B");
	assert_int_equal(srp6a_u(grp, A, B, u), 0);
	check_hex(u, hl, t->u, "u");
	assert_int_equal(srp6a_server_S(grp, A, v, u, b, bl, Ss), 0);
	check_hex(Ss, nl, t->S, "S (server)");
	assert_int_equal(srp6a_client_S(grp, B, x, u, a, al, Sc), 0);
	check_hex(Sc, nl, t->S, "S (client)");
	if (full) {
		assert_int_equal(srp6a_K(grp, Ss, K), 0);
		check_hex(K, hl, t->K, "K");
		assert_int_equal(srp6a_M1(grp, t->I, strlen(t->I), s, sl, A, B, K, m1), 0);
		check_hex(m1, hl, t->M1, "M1");
		assert_int_equal(srp6a_M2(grp, A, m1, K, m2), 0);
		check_hex(m2, hl, t->M2, "M2");
	}
	free(s);
	free(a);
	free(b);
	free(v0);
	free(A0);
	free(B0);
}

/* ---- vectors ---- */

static void
test_srp_rfc5054_vectors(void **state)
{
	struct srp6a_group *grp = NULL;

	(void)state;
	assert_int_equal(srp6a_group_new(rfc5054.N, 2, EVP_sha1(), &grp), 0);
	assert_int_equal(srp6a_nlen(grp), 128);
	assert_int_equal(srp6a_hlen(grp), 20);
	run_vector(grp, &rfc5054, false);
	srp6a_group_free(grp);
}

static void
test_srp_profile_vectors(void **state)
{
	const struct srp6a_group *grp = srp6a_group_default();

	(void)state;
	assert_non_null(grp);
	assert_int_equal(srp6a_nlen(grp), SRP_N_BYTES);
	assert_int_equal(srp6a_hlen(grp), SRP_HASH_BYTES);
	/* vector 2 is the one with leading zeros in the salt and in PAD(A) */
	assert_memory_equal(profile[1].s, "00", 2);
	assert_memory_equal(profile[1].A, "00", 2);
	for (size_t i = 0; i < sizeof(profile) / sizeof(profile[0]); i++)
		run_vector(grp, &profile[i], true);
}

/* The same group built from RFC 5054's text equals the built-in one. */
static void
test_srp_default_group(void **state)
{
	struct srp6a_group *grp = NULL;
	uint8_t k1[32], k2[32];

	(void)state;
	assert_int_equal(strlen(srp6a_default_n_hex), 768);
	assert_int_equal(srp6a_group_new(srp6a_default_n_hex, 5, EVP_sha256(), &grp), 0);
	assert_int_equal(srp6a_k(grp, k1), 0);
	assert_int_equal(srp6a_k(srp6a_group_default(), k2), 0);
	assert_memory_equal(k1, k2, 32);
	srp6a_group_free(grp);
	assert_int_equal(srp6a_group_new("zz", 5, EVP_sha256(), &grp), CF_EINVAL);
	assert_int_equal(srp6a_group_new("10", 5, EVP_sha256(), &grp), CF_EINVAL);
}

/* A full login between srp6a's client side and the server-side check. */
static void
login(const char *user, const char *pass, const char *typed, bool *ret_ok)
{
	const struct srp6a_group *grp = srp6a_group_default();
	struct srp_session *s = srp_session_new();
	uint8_t salt[32], x[32], a[32], A[SRP_N_BYTES], u[32], S[SRP_N_BYTES], K[32], m1[32],
	        m2[32], m2c[32];

	assert_non_null(s);
	memset(salt, 0x5a, sizeof(salt));
	memset(a, 0x33, sizeof(a));
	/* registration */
	assert_int_equal(srp6a_x(grp, salt, 32, user, strlen(user), pass, strlen(pass), x), 0);
	assert_int_equal(srp6a_pow_g(grp, x, 32, s->v), 0);
	/* init */
	snprintf(s->user, sizeof(s->user), "%s", user);
	memcpy(s->salt, salt, 32);
	s->known = true;
	memset(s->b, 0x77, sizeof(s->b));
	assert_int_equal(srp6a_pow_g(grp, a, 32, A), 0);
	assert_int_equal(srp6a_public_check(grp, A, sizeof(A), s->A), 0);
	assert_int_equal(srp6a_server_B(grp, s->v, s->b, 32, s->B), 0);
	/* client */
	assert_int_equal(srp6a_x(grp, salt, 32, user, strlen(user), typed, strlen(typed), x), 0);
	assert_int_equal(srp6a_u(grp, A, s->B, u), 0);
	assert_int_equal(srp6a_client_S(grp, s->B, x, u, a, 32, S), 0);
	assert_int_equal(srp6a_K(grp, S, K), 0);
	assert_int_equal(srp6a_M1(grp, user, strlen(user), salt, 32, A, s->B, K, m1), 0);
	assert_int_equal(srp6a_M2(grp, A, m1, K, m2c), 0);
	/* verify */
	if (srp_session_check(grp, s, m1, m2) == 0) {
		assert_memory_equal(m2, m2c, 32);
		*ret_ok = true;
	} else {
		*ret_ok = false;
	}
	/* one bit off in M1 never passes */
	m1[31] ^= 0x01;
	assert_int_equal(srp_session_check(grp, s, m1, m2), CF_EDENIED);
	m1[31] ^= 0x01;
	/* nor does an unknown user's session with the right M1 */
	s->known = false;
	assert_int_equal(srp_session_check(grp, s, m1, m2), CF_EDENIED);
	srp_session_free(s);
}

static void
test_srp_session_check(void **state)
{
	bool ok = false;

	(void)state;
	login("alice", "password123", "password123", &ok);
	assert_true(ok);
	login("alice", "password123", "password124", &ok);
	assert_false(ok);
}

/* ---- negative cases (docs/internals/auth.md, SRP) ---- */

static char *
bn_hex(const BIGNUM *n)
{
	char *h = BN_bn2hex(n), *out;

	assert_non_null(h);
	out = strdup(h);
	OPENSSL_free(h);
	return out;
}

static void
test_srp_reject_A(void **state)
{
	const struct srp6a_group *grp = srp6a_group_default();
	uint8_t out[SRP_N_BYTES], raw[SRP_N_BYTES + 1];
	BIGNUM *N = NULL, *t = BN_new();
	char *hN, *h2N, *hN1, *hNm1, zeros[2 * SRP_N_BYTES + 1];

	(void)state;
	assert_true(BN_hex2bn(&N, srp6a_default_n_hex) > 0);
	hN = bn_hex(N);
	assert_true(BN_lshift1(t, N));
	h2N = bn_hex(t);
	assert_true(BN_add(t, N, BN_value_one()));
	hN1 = bn_hex(t);
	assert_true(BN_sub(t, N, BN_value_one()));
	hNm1 = bn_hex(t);
	memset(zeros, '0', sizeof(zeros) - 1);
	zeros[sizeof(zeros) - 1] = '\0';

	assert_int_equal(srp_parse_A(grp, "0", out), CF_EINVAL);
	assert_int_equal(srp_parse_A(grp, "00", out), CF_EINVAL);
	assert_int_equal(srp_parse_A(grp, zeros, out), CF_EINVAL);
	assert_int_equal(srp_parse_A(grp, hN, out), CF_EINVAL);  /* A = N */
	assert_int_equal(srp_parse_A(grp, h2N, out), CF_EINVAL); /* A = 2N, 385 bytes */
	assert_int_equal(srp_parse_A(grp, hN1, out), CF_EINVAL); /* A > N */
	assert_int_equal(srp_parse_A(grp, "", out), CF_EINVAL);
	assert_int_equal(srp_parse_A(grp, "xyz", out), CF_EINVAL);
	assert_int_equal(srp_parse_A(grp, NULL, out), CF_EINVAL);
	/* in range: N - 1, 1, and odd/uppercase digits */
	assert_int_equal(srp_parse_A(grp, hNm1, out), 0);
	assert_int_equal(srp_parse_A(grp, "1", out), 0);
	assert_int_equal(out[SRP_N_BYTES - 1], 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(srp_parse_A(grp, "AbC", out), 0);
	assert_int_equal(out[SRP_N_BYTES - 2], 0x0a);
	assert_int_equal(out[SRP_N_BYTES - 1], 0xbc);
	/* too long even with leading zeros */
	memset(raw, 0, sizeof(raw));
	raw[SRP_N_BYTES] = 1;
	assert_int_equal(srp6a_public_check(grp, raw, sizeof(raw), out), CF_EINVAL);
	assert_int_equal(srp6a_public_check(grp, raw, 0, out), CF_EINVAL);

	free(hN);
	free(h2N);
	free(hN1);
	free(hNm1);
	BN_free(N);
	BN_free(t);
}

static void
test_srp_reject_verifier(void **state)
{
	const struct srp6a_group *grp = srp6a_group_default();
	uint8_t out[SRP_N_BYTES];
	char hex[2 * SRP_N_BYTES + 3];

	(void)state;
	memset(hex, '0', 2 * SRP_N_BYTES);
	hex[2 * SRP_N_BYTES] = '\0';
	assert_int_equal(srp_parse_verifier(grp, hex, out), CF_EINVAL); /* 0 */
	hex[2 * SRP_N_BYTES - 1] = '1';
	assert_int_equal(srp_parse_verifier(grp, hex, out), CF_EINVAL); /* 1 */
	hex[2 * SRP_N_BYTES - 1] = '2';
	assert_int_equal(srp_parse_verifier(grp, hex, out), 0);             /* 2 */
	assert_int_equal(srp_parse_verifier(grp, hex + 2, out), CF_EINVAL); /* 383 bytes */
	memcpy(hex + 2 * SRP_N_BYTES, "02", 3);
	assert_int_equal(srp_parse_verifier(grp, hex, out), CF_EINVAL); /* 385 bytes */
	assert_int_equal(srp_parse_verifier(grp, srp6a_default_n_hex, out), CF_EINVAL); /* N */
	memset(hex, 'f', 2 * SRP_N_BYTES);
	hex[2 * SRP_N_BYTES] = '\0';
	assert_int_equal(srp_parse_verifier(grp, hex, out), CF_EINVAL); /* > N */
	hex[0] = 'g';
	assert_int_equal(srp_parse_verifier(grp, hex, out), CF_EINVAL);
}

static void
test_srp_reject_salt(void **state)
{
	uint8_t out[32];
	char hex[67];

	(void)state;
	memset(hex, 'a', 64);
	hex[64] = '\0';
	assert_int_equal(srp_parse_hex_exact(hex, out, 32), 0);
	hex[62] = '\0';
	assert_int_equal(srp_parse_hex_exact(hex, out, 32), CF_EINVAL); /* 31 bytes */
	memset(hex, 'a', 66);
	hex[66] = '\0';
	assert_int_equal(srp_parse_hex_exact(hex, out, 32), CF_EINVAL); /* 33 bytes */
	hex[63] = '\0';
	assert_int_equal(srp_parse_hex_exact(hex, out, 32), CF_EINVAL); /* odd */
	assert_int_equal(srp_parse_hex_exact("", out, 32), CF_EINVAL);
}

static void
test_srp_usernames(void **state)
{
	static const char *good[] = {"alice", "0", "bob@example.com", "a.b_c+d-e", "x9"};
	static const char *bad[] = {"",    "Alice", ".alice", "-a",  "_a", "a b",
	                            "a/b", "a:b",   "ä",      "a\n", "@a"};
	char longname[SRP_USERNAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(srp_parse_username(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(srp_parse_username(bad[i]));
	assert_false(srp_parse_username(NULL));
	memset(longname, 'a', SRP_USERNAME_MAX);
	longname[SRP_USERNAME_MAX] = '\0';
	assert_true(srp_parse_username(longname));
	longname[SRP_USERNAME_MAX] = 'a';
	longname[SRP_USERNAME_MAX + 1] = '\0';
	assert_false(srp_parse_username(longname));
}

static void
test_srp_fake_user(void **state)
{
	const struct srp6a_group *grp = srp6a_group_default();
	uint8_t key[32], key2[32], s1[32], s2[32], s3[32], v1[SRP_N_BYTES], v2[SRP_N_BYTES];

	(void)state;
	memset(key, 1, sizeof(key));
	memset(key2, 2, sizeof(key2));
	assert_int_equal(srp_fake_salt(key, "mallory", s1), 0);
	assert_int_equal(srp_fake_salt(key, "mallory", s2), 0);
	assert_memory_equal(s1, s2, 32); /* stable */
	assert_int_equal(srp_fake_salt(key, "mallorz", s3), 0);
	assert_memory_not_equal(s1, s3, 32);
	assert_int_equal(srp_fake_salt(key2, "mallory", s3), 0);
	assert_memory_not_equal(s1, s3, 32);
	assert_int_equal(srp_fake_verifier(grp, key, "mallory", v1), 0);
	assert_int_equal(srp_fake_verifier(grp, key, "mallory", v2), 0);
	assert_memory_equal(v1, v2, sizeof(v1));
	assert_int_equal(srp6a_verifier_check(grp, v1, sizeof(v1)), 0);
	/* the salt is not the verifier's exponent */
	assert_int_equal(srp6a_pow_g(grp, s1, 32, v2), 0);
	assert_memory_not_equal(v1, v2, sizeof(v1));
}

/* ---- sessions ---- */

#define T0 ((int64_t)1700000000 * SRP_NS)

static struct srp_session *
mk_session(const char *user, uint8_t tag, int64_t expires)
{
	struct srp_session *s = srp_session_new();

	assert_non_null(s);
	snprintf(s->user, sizeof(s->user), "%s", user);
	memset(s->id, tag, sizeof(s->id));
	s->id[0] = (uint8_t)(tag * 7);
	s->expires = expires;
	return s;
}

static uint8_t *
id_of(uint8_t tag, uint8_t id[SRP_SESSION_ID_BYTES])
{
	memset(id, tag, SRP_SESSION_ID_BYTES);
	id[0] = (uint8_t)(tag * 7);
	return id;
}

static void
test_srp_sessions_single_use_and_expiry(void **state)
{
	struct srp_sessions *t = NULL;
	struct srp_session *s = NULL;
	uint8_t id[SRP_SESSION_ID_BYTES];
	int64_t ttl = SRP_SESSION_TTL_DEFAULT * SRP_NS;

	(void)state;
	assert_int_equal(srp_sessions_new(100, 16, &t), 0);
	assert_int_equal(srp_sessions_put(t, mk_session("alice", 1, T0 + ttl), T0), 0);
	assert_int_equal(srp_sessions_put(t, mk_session("alice", 2, T0 + ttl), T0), 0);
	assert_int_equal(srp_sessions_count(t), 2);
	/* used once, gone */
	assert_int_equal(srp_sessions_take(t, id_of(1, id), T0 + SRP_NS, &s), 0);
	assert_string_equal(s->user, "alice");
	srp_session_free(s);
	assert_int_equal(srp_sessions_take(t, id_of(1, id), T0 + SRP_NS, &s), CF_ENOTFOUND);
	/* expired 60 s after init: refused, and removed as well */
	assert_int_equal(srp_sessions_take(t, id_of(2, id), T0 + ttl, &s), CF_ENOTFOUND);
	assert_int_equal(srp_sessions_count(t), 0);
	/* a second before expiry still works */
	assert_int_equal(srp_sessions_put(t, mk_session("bob", 3, T0 + ttl), T0), 0);
	assert_int_equal(srp_sessions_take(t, id_of(3, id), T0 + ttl - SRP_NS, &s), 0);
	srp_session_free(s);
	/* unknown id */
	assert_int_equal(srp_sessions_take(t, id_of(9, id), T0, &s), CF_ENOTFOUND);
	/* expired sessions are swept when new ones come in */
	assert_int_equal(srp_sessions_put(t, mk_session("c", 4, T0 + ttl), T0), 0);
	assert_int_equal(srp_sessions_put(t, mk_session("d", 5, T0 + 2 * ttl), T0 + ttl), 0);
	assert_int_equal(srp_sessions_count(t), 1);
	srp_sessions_free(t);
}

static void
test_srp_sessions_caps(void **state)
{
	struct srp_sessions *t = NULL;
	struct srp_session *s = NULL;
	uint8_t id[SRP_SESSION_ID_BYTES];
	int64_t exp = T0 + 60 * SRP_NS;

	(void)state;
	assert_int_equal(srp_sessions_new(20, SRP_MAX_SESSIONS_PER_USER, &t), 0);
	/* per user: the 17th drops alice's oldest, not bob's */
	assert_int_equal(srp_sessions_put(t, mk_session("bob", 100, exp), T0), 0);
	for (int i = 1; i <= 17; i++)
		assert_int_equal(srp_sessions_put(t, mk_session("alice", (uint8_t)i, exp), T0), 0);
	assert_int_equal(srp_sessions_count(t), 1 + SRP_MAX_SESSIONS_PER_USER);
	assert_int_equal(srp_sessions_take(t, id_of(1, id), T0, &s), CF_ENOTFOUND);
	assert_int_equal(srp_sessions_take(t, id_of(2, id), T0, &s), 0);
	srp_session_free(s);
	assert_int_equal(srp_sessions_take(t, id_of(100, id), T0, &s), 0);
	srp_session_free(s);
	/* overall: beyond 20 the oldest goes */
	for (int i = 0; i < 10; i++) {
		char name[8];
		snprintf(name, sizeof(name), "u%d", i);
		assert_int_equal(srp_sessions_put(t, mk_session(name, (uint8_t)(150 + i), exp), T0),
		                 0);
	}
	assert_int_equal(srp_sessions_count(t), 20);
	assert_int_equal(srp_sessions_take(t, id_of(3, id), T0, &s), CF_ENOTFOUND);
	assert_int_equal(srp_sessions_take(t, id_of(159, id), T0, &s), 0);
	srp_session_free(s);
	srp_sessions_free(t);
}

/* ---- lockout and per-address limit ---- */

static void
test_srp_lockout(void **state)
{
	struct srp_guard *g = NULL;
	int64_t retry = 0, t = T0;

	(void)state;
	assert_int_equal(srp_guard_new(&g), 0);
	for (int i = 0; i < 4; i++)
		srp_guard_failed(g, "alice", t + i * SRP_NS);
	assert_int_equal(srp_guard_locked(g, "alice", t + 5 * SRP_NS, &retry), 0);
	srp_guard_failed(g, "alice", t + 10 * SRP_NS); /* the 5th */
	assert_int_equal(srp_guard_locked(g, "alice", t + 11 * SRP_NS, &retry), CF_ERATELIMIT);
	assert_int_equal(retry, SRP_LOCK_DURATION - 1);
	/* unknown names are counted alike; others are unaffected */
	assert_int_equal(srp_guard_locked(g, "bob", t + 11 * SRP_NS, &retry), 0);
	/* failures during the lock do not extend it */
	srp_guard_failed(g, "alice", t + 100 * SRP_NS);
	assert_int_equal(
	        srp_guard_locked(g, "alice", t + (10 + SRP_LOCK_DURATION) * SRP_NS - 1, &retry),
	        CF_ERATELIMIT);
	assert_int_equal(
	        srp_guard_locked(g, "alice", t + (10 + SRP_LOCK_DURATION) * SRP_NS, &retry), 0);
	/* afterwards one more failure does not lock again at once */
	srp_guard_failed(g, "alice", t + (20 + SRP_LOCK_DURATION) * SRP_NS);
	assert_int_equal(
	        srp_guard_locked(g, "alice", t + (21 + SRP_LOCK_DURATION) * SRP_NS, &retry), 0);

	/* five failures spread over more than 15 min: no lock */
	for (int i = 0; i < 5; i++)
		srp_guard_failed(g, "carol", t + i * 300 * SRP_NS);
	assert_int_equal(srp_guard_locked(g, "carol", t + 1201 * SRP_NS, &retry), 0);

	/* a success forgets the failures */
	for (int i = 0; i < 4; i++)
		srp_guard_failed(g, "dave", t + i * SRP_NS);
	srp_guard_succeeded(g, "dave");
	srp_guard_failed(g, "dave", t + 5 * SRP_NS);
	assert_int_equal(srp_guard_locked(g, "dave", t + 6 * SRP_NS, &retry), 0);
	srp_guard_free(g);
}

static void
test_srp_addr_limit(void **state)
{
	struct srp_guard *g = NULL;
	int64_t retry = 0, t = T0;

	(void)state;
	assert_int_equal(srp_guard_new(&g), 0);
	for (int i = 0; i < SRP_IP_LIMIT; i++)
		assert_int_equal(srp_guard_addr(g, "192.0.2.1", t + i * 1000000LL, &retry), 0);
	assert_int_equal(srp_guard_addr(g, "192.0.2.1", t + 500 * 1000000LL, &retry),
	                 CF_ERATELIMIT);
	assert_true(retry >= 1 && retry <= SRP_IP_WINDOW);
	/* another address is unaffected */
	assert_int_equal(srp_guard_addr(g, "192.0.2.2", t + SRP_NS, &retry), 0);
	/* a minute after the first call, one more is allowed */
	assert_int_equal(srp_guard_addr(g, "192.0.2.1", t + SRP_IP_WINDOW * SRP_NS, &retry), 0);
	assert_int_equal(srp_guard_addr(g, "192.0.2.1", t + SRP_IP_WINDOW * SRP_NS, &retry),
	                 CF_ERATELIMIT); /* the 2nd call, at t + 1 ms, still counts */
	assert_int_equal(
	        srp_guard_addr(g, "192.0.2.1", t + SRP_IP_WINDOW * SRP_NS + 1000000LL, &retry), 0);
	srp_guard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_srp_rfc5054_vectors),
	        cmocka_unit_test(test_srp_profile_vectors),
	        cmocka_unit_test(test_srp_default_group),
	        cmocka_unit_test(test_srp_session_check),
	        cmocka_unit_test(test_srp_reject_A),
	        cmocka_unit_test(test_srp_reject_verifier),
	        cmocka_unit_test(test_srp_reject_salt),
	        cmocka_unit_test(test_srp_usernames),
	        cmocka_unit_test(test_srp_fake_user),
	        cmocka_unit_test(test_srp_sessions_single_use_and_expiry),
	        cmocka_unit_test(test_srp_sessions_caps),
	        cmocka_unit_test(test_srp_lockout),
	        cmocka_unit_test(test_srp_addr_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
