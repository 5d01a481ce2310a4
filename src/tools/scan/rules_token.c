/* rules_token.c - the token rules of `coffer scan` (scan.h; docs/scanner.md
 * "Rules: tokens"): credentials with a fixed prefix or a fixed shape, one rule
 * per kind. A rule's keywords are the literal prefixes the prefilter looks
 * for; its pattern pins the charset and length; token_check drops
 * placeholders (a run of one character, counting runs such as "12345678",
 * the words "example", "your", "changeme" ...), and github_check verifies the
 * CRC32 checksum that GitHub and npm tokens carry in their last six
 * characters. */
#include "tools/scan/scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KW(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Placeholder words, found all lower-case or all upper-case (a random body
 * mixes cases; "XXxx" in one is chance, not a placeholder). */
static const char *const placeholder_words[] = {
        "example", "your", "placeholder", "redacted", "changeme", "dummy", "sample", "insert",
};

static bool
contains_word(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i + wl <= n; i++) {
		size_t j = 0;
		while (j < wl && s[i + j] == w[j])
			j++;
		if (j == wl)
			return true;
		j = 0;
		while (j < wl && s[i + j] == w[j] - 32)
			j++;
		if (j == wl)
			return true;
	}
	return false;
}

/* True if s looks like a placeholder rather than random bytes: six or more of
 * one character in a row, eight or more characters counting up or down by
 * one, or a placeholder word. */
static bool
looks_placeholder(const char *s, size_t n)
{
	size_t same = 1, up = 1, down = 1;

	for (size_t i = 1; i < n; i++) {
		unsigned char a = (unsigned char)s[i - 1], b = (unsigned char)s[i];
		same = b == a ? same + 1 : 1;
		up = b == a + 1 ? up + 1 : 1;
		down = b + 1 == a ? down + 1 : 1;
		if (same >= 6 || up >= 8 || down >= 8)
			return true;
	}
	for (size_t i = 0; i < sizeof(placeholder_words) / sizeof(placeholder_words[0]); i++)
		if (contains_word(s, n, placeholder_words[i]))
			return true;
	return false;
}

static bool
token_check(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	(void)ctx;
	(void)ctx_len;
	(void)off;
	return !looks_placeholder(secret, len);
}

static uint32_t
crc32_ieee(const char *s, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

/* GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm tokens: 30 random base62
 * characters, then the CRC32 of those 30 in base62 (0-9A-Za-z), left-padded
 * with '0' to six characters. */
static bool
github_check(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char sum[6];
	const char *body;
	uint32_t c;

	if (len < 36 || !token_check(secret, len, ctx, ctx_len, off))
		return false;
	body = secret + len - 36;
	c = crc32_ieee(body, 30);
	for (int i = 5; i >= 0; i--) {
		sum[i] = b62[c % 62];
		c /= 62;
	}
	return memcmp(sum, body + 30, 6) == 0;
}

const struct scan_rule scan_token_rules[] = {
        {
                .id = "aws-access-key-id",
                .description = "AWS access key id (AKIA long-lived, ASIA temporary)",
                .hint = "deactivate the key in IAM and use a role or coffer-issued credentials",
                .keywords = KW("akia", "asia"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9]))(?<secret>(?:AKIA|ASIA)[A-Z2-7]{16})"
                           "(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "github-pat",
                .description = "GitHub classic personal access token (checksum verified)",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("ghp_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ghp_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "github-oauth-token",
                .description = "GitHub OAuth access token (checksum verified)",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("gho_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>gho_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "github-user-token",
                .description = "GitHub user-to-server token (checksum verified)",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("ghu_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ghu_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "github-server-token",
                .description =
                        "GitHub app installation (server-to-server) token (checksum verified)",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("ghs_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ghs_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "github-refresh-token",
                .description = "GitHub refresh token (checksum verified)",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("ghr_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ghr_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "github-fine-grained-pat",
                .description = "GitHub fine-grained personal access token",
                .hint = "revoke it in GitHub settings, then read it from the environment",
                .keywords = KW("github_pat_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>github_pat_[A-Za-z0-9]{"
                           "22}_[A-Za-z0-9]{59})(?![A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "gitlab-pat",
                .description = "GitLab personal, project or group access token",
                .hint = "revoke it in GitLab, then read it from the environment",
                .keywords = KW("glpat-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>glpat-(?:[A-Za-z0-9_-]{"
                           "27,300}\\.[0-9A-Za-z]{2}\\.[0-9A-Za-z]{7,9}|[A-Za-z0-9_-]{20}))(?![A-"
                           "Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "gitlab-deploy-token",
                .description = "GitLab deploy token",
                .hint = "revoke it in GitLab, then read it from the environment",
                .keywords = KW("gldt-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>gldt-[A-Za-z0-9_-]{20,"
                           "300})(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "gitlab-runner-token",
                .description = "GitLab runner authentication or registration token",
                .hint = "reset the runner token in GitLab",
                .keywords = KW("glrt-", "gr1348941"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>(?:glrt-|GR1348941)[A-"
                           "Za-z0-9_-]{20,300})(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "gitlab-pipeline-trigger-token",
                .description = "GitLab pipeline trigger token",
                .hint = "revoke the trigger in GitLab",
                .keywords = KW("glptt-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>glptt-[0-9a-f]{40})(?!["
                           "A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "gitlab-other-token",
                .description = "GitLab CI build, feed, SCIM, OAuth application, incoming mail or "
                               "agent token",
                .hint = "revoke it in GitLab",
                .keywords = KW("glcbt-", "glft-", "glsoat-", "gloas-", "glimt-", "glagent-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>(?:glcbt-(?:[0-9a-f]{1,"
                           "5}_)?|glft-|glsoat-|gloas-|glimt-|glagent-)[A-Za-z0-9_-]{20,300})(?![A-"
                           "Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "slack-bot-token",
                .description = "Slack bot token (xoxb)",
                .hint = "revoke it in the Slack app settings",
                .keywords = KW("xoxb-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>xoxb-[0-9]{10,13}-[0-9]{"
                           "10,13}-[A-Za-z0-9]{24,34})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "slack-user-token",
                .description = "Slack user or legacy workspace token (xoxp, xoxa, xoxo, xoxs)",
                .hint = "revoke it in the Slack app settings",
                .keywords = KW("xoxp-", "xoxa-", "xoxo-", "xoxs-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>xox[paos]-[0-9]{1,13}-[0-"
                           "9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{28,64})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "slack-app-token",
                .description = "Slack app-level token (xapp)",
                .hint = "revoke it in the Slack app settings",
                .keywords = KW("xapp-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>xapp-[0-9]{1,2}-[A-Z0-9]{"
                           "9,12}-[0-9]{10,13}-[A-Za-z0-9]{32,80})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "slack-refresh-token",
                .description = "Slack rotating access or refresh token (xoxe)",
                .hint = "revoke it in the Slack app settings",
                .keywords = KW("xoxe"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>xoxe(?:\\.xox[bpa])?-[0-"
                           "9]-[A-Za-z0-9]{60,300})(?![A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "slack-webhook",
                .description = "Slack incoming webhook or workflow trigger URL",
                .hint = "regenerate the webhook URL in Slack and keep it out of the code",
                .keywords = KW("hooks.slack.com"),
                .pattern = "(?<secret>hooks\\.slack\\.com/(?:services|workflows|triggers)/"
                           "T[A-Z0-9]{8,10}/(?:[A-Za-z0-9]{8,24}/"
                           "){1,2}[A-Za-z0-9]{24,64})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "stripe-secret-key",
                .description = "Stripe secret API key (live or test mode)",
                .hint = "roll the key in the Stripe dashboard",
                .keywords = KW("sk_live_", "sk_test_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>sk_(?:live|test)_[A-Za-"
                           "z0-9]{24,247})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "stripe-restricted-key",
                .description = "Stripe restricted API key",
                .hint = "roll the key in the Stripe dashboard",
                .keywords = KW("rk_live_", "rk_test_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>rk_(?:live|test)_[A-Za-"
                           "z0-9]{24,247})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "stripe-webhook-secret",
                .description = "webhook signing secret (whsec_)",
                .hint = "roll the signing secret with the provider",
                .keywords = KW("whsec_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>whsec_[A-Za-z0-9+/"
                           "]{32,88}={0,2})(?![A-Za-z0-9+/=])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "google-api-key",
                .description = "Google API key (AIza)",
                .hint = "restrict or delete the key in the Google Cloud console",
                .keywords = KW("aiza"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>AIza[A-Za-z0-9_-]{35})(?"
                           "![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "google-oauth-client-secret",
                .description = "Google OAuth client secret (GOCSPX)",
                .hint = "reset the client secret in the Google Cloud console",
                .keywords = KW("gocspx-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>GOCSPX-[A-Za-z0-9_-]{28}"
                           ")(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "azure-ad-client-secret",
                .description = "Azure AD (Entra ID) application client secret",
                .hint = "delete the secret in the app registration and use a managed identity",
                .keywords = KW("q~"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_~.-]))(?<secret>[A-Za-z0-9]{3}[0-9]Q~["
                           "A-Za-z0-9_~.-]{34})(?![A-Za-z0-9_~.-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "sendgrid-api-key",
                .description = "SendGrid API key",
                .hint = "delete the key in SendGrid",
                .keywords = KW("sg."),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>SG\\.[A-Za-z0-9_-]{22}"
                           "\\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "npm-token",
                .description = "npm access token (checksum verified)",
                .hint = "revoke it with `npm token revoke` and use an environment variable in "
                        ".npmrc",
                .keywords = KW("npm_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>npm_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 0.0,
                .check = github_check,
        },
        {
                .id = "pypi-token",
                .description = "PyPI or TestPyPI API token",
                .hint = "revoke it in the PyPI account settings; use trusted publishing",
                .keywords = KW("pypi-ag"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>pypi-(?:AgEIcHlwaS5vcmc|"
                           "AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "openai-api-key",
                .description = "OpenAI API key (project, service account, admin or legacy)",
                .hint = "revoke it in the OpenAI dashboard",
                .keywords = KW("t3blbkfj"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>sk-(?:(?:proj|svcacct|"
                           "admin)-[A-Za-z0-9_-]{20,250}T3BlbkFJ[A-Za-z0-9_-]{20,250}|[A-Za-z0-9]{"
                           "20}T3BlbkFJ[A-Za-z0-9]{20}))(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "anthropic-api-key",
                .description = "Anthropic API key",
                .hint = "revoke it in the Anthropic console",
                .keywords = KW("sk-ant-api"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>sk-ant-api[0-9]{2}-[A-"
                           "Za-z0-9_-]{93}AA)(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "anthropic-admin-key",
                .description = "Anthropic admin API key",
                .hint = "revoke it in the Anthropic console",
                .keywords = KW("sk-ant-admin"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>sk-ant-admin[0-9]{2}-[A-"
                           "Za-z0-9_-]{93}AA)(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "huggingface-token",
                .description = "Hugging Face user or organization access token",
                .hint = "revoke it in the Hugging Face settings",
                .keywords = KW("hf_", "api_org_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>(?:hf_|api_org_)[A-Za-z]{"
                           "34})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "vault-token",
                .description = "HashiCorp Vault service, batch or recovery token",
                .hint = "revoke it (`vault token revoke`) and use short-lived auth",
                .keywords = KW("hvs.", "hvb.", "hvr."),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>hv[sbr]\\.[A-Za-z0-9_-]{"
                           "90,300})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "vault-legacy-token",
                .description = "HashiCorp Vault token in the old s. format, next to a Vault name",
                .hint = "revoke it (`vault token revoke`)",
                .keywords = KW("vault"),
                .pattern = "(?i:vault)[A-Za-z0-9_.-]{0,20}(?i:token)[A-Za-z0-9_.-]{0,10}[\"\\']?[ "
                           "\\t]*(?:[:=]|=>|:=)[ "
                           "\\t]*[\"\\']?(?<secret>s\\.[A-Za-z0-9]{24})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "terraform-cloud-token",
                .description = "Terraform Cloud / HCP Terraform API token",
                .hint = "revoke it in Terraform Cloud",
                .keywords = KW(".atlasv1."),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>[A-Za-z0-9]{14}\\."
                           "atlasv1\\.[A-Za-z0-9_=-]{60,70})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "digitalocean-pat",
                .description = "DigitalOcean personal access token",
                .hint = "revoke it in the DigitalOcean control panel",
                .keywords = KW("dop_v1_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dop_v1_[a-f0-9]{64})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "digitalocean-oauth-token",
                .description = "DigitalOcean OAuth access token",
                .hint = "revoke it in the DigitalOcean control panel",
                .keywords = KW("doo_v1_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>doo_v1_[a-f0-9]{64})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "digitalocean-refresh-token",
                .description = "DigitalOcean OAuth refresh token",
                .hint = "revoke it in the DigitalOcean control panel",
                .keywords = KW("dor_v1_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dor_v1_[a-f0-9]{64})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "shopify-access-token",
                .description = "Shopify admin, custom app or partner access token",
                .hint = "rotate it in the Shopify admin",
                .keywords = KW("shpat_", "shpca_", "shppa_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>shp(?:at|ca|pa)_[a-fA-F0-"
                           "9]{32})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "shopify-shared-secret",
                .description = "Shopify app shared secret",
                .hint = "rotate it in the Shopify partner dashboard",
                .keywords = KW("shpss_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>shpss_[a-fA-F0-9]{32})(?!"
                           "[A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "age-secret-key",
                .description = "age encryption secret key",
                .hint = "generate a new identity and re-encrypt; keep identities out of the tree",
                .keywords = KW("age-secret-key-1"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>AGE-SECRET-KEY-1["
                           "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "telegram-bot-token",
                .description = "Telegram bot token",
                .hint = "revoke it with @BotFather (/revoke)",
                .keywords = KW(":aa"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_:]))(?<secret>[0-9]{8,10}:AA[A-Za-z0-"
                           "9_-]{33})(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "mailgun-api-key",
                .description = "Mailgun API key (key- form)",
                .hint = "rotate it in the Mailgun control panel",
                .keywords = KW("key-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>key-[0-9a-f]{32})(?![A-"
                           "Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "doppler-token",
                .description =
                        "Doppler personal, service, service account, CLI, SCIM or audit token",
                .hint = "revoke it in Doppler",
                .keywords = KW("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dp\\.(?:pt|st|sa|ct|scim|"
                           "audit)\\.(?:[a-z0-9_-]{1,40}\\.)?[A-Za-z0-9]{40,44})(?![A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "databricks-token",
                .description = "Databricks personal access token",
                .hint = "revoke it in the Databricks user settings",
                .keywords = KW("dapi"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dapi[a-f0-9]{32}(?:-[0-9]"
                           ")?)(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "linear-api-key",
                .description = "Linear personal API key",
                .hint = "revoke it in Linear settings",
                .keywords = KW("lin_api_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>lin_api_[A-Za-z0-9]{40})("
                           "?![A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "postman-api-key",
                .description = "Postman API key",
                .hint = "revoke it in Postman",
                .keywords = KW("pmak-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>PMAK-[a-f0-9]{24}-[a-f0-"
                           "9]{34})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "newrelic-api-key",
                .description = "New Relic user API key or insert key",
                .hint = "rotate it in New Relic",
                .keywords = KW("nrak-", "nrii-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>(?:NRAK-[A-Z0-9]{27}|"
                           "NRII-[A-Za-z0-9_-]{32}))(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "sentry-token",
                .description = "Sentry organization or user auth token",
                .hint = "revoke it in Sentry",
                .keywords = KW("sntrys_", "sntryu_"),
                .pattern =
                        "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>(?:sntrys_eyJ[A-Za-z0-9+/"
                        "]{30,600}={0,2}_[A-Za-z0-9+/]{43}|sntryu_[a-f0-9]{64}))(?![A-Za-z0-9+/])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "grafana-token",
                .description = "Grafana service account or Grafana Cloud token",
                .hint = "revoke it in Grafana",
                .keywords = KW("glsa_", "glc_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>(?:glsa_[A-Za-z0-9]{32}_["
                           "A-Fa-f0-9]{8}|glc_eyJ[A-Za-z0-9+/]{32,400}={0,2}))(?![A-Za-z0-9+/=])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "atlassian-api-token",
                .description = "Atlassian (Jira, Confluence) API token",
                .hint = "revoke it at id.atlassian.com",
                .keywords = KW("atatt3"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>ATATT3[A-Za-z0-9_=-]{"
                           "150,250})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "planetscale-token",
                .description = "PlanetScale service token, password or OAuth token",
                .hint = "revoke it in PlanetScale",
                .keywords = KW("pscale_tkn_", "pscale_pw_", "pscale_oauth_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>pscale_(?:tkn|pw|oauth)_"
                           "[A-Za-z0-9_.=-]{32,64})(?![A-Za-z0-9_.=-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "pulumi-access-token",
                .description = "Pulumi access token",
                .hint = "revoke it in the Pulumi console",
                .keywords = KW("pul-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>pul-[a-f0-9]{40})(?![A-"
                           "Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "flyio-token",
                .description = "Fly.io access or macaroon token",
                .hint = "revoke it with `fly tokens revoke`",
                .keywords = KW("fo1_", "fm1a_", "fm1r_", "fm2_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>(?:fo1_[A-Za-z0-9_-]{43}|"
                           "fm(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3}))(?![A-Za-z0-9_+/=-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "supabase-token",
                .description = "Supabase personal access token or secret API key",
                .hint = "revoke it in the Supabase dashboard",
                .keywords = KW("sbp_", "sb_secret_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>(?:sbp_[a-f0-9]{40}|sb_"
                           "secret_[A-Za-z0-9_-]{31,64}))(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "netlify-token",
                .description = "Netlify personal access token",
                .hint = "revoke it in Netlify user settings",
                .keywords = KW("nfp_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>nfp_[A-Za-z0-9]{36})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "heroku-api-key",
                .description = "Heroku API key (HRKU form)",
                .hint = "revoke it with `heroku authorizations:revoke`",
                .keywords = KW("hrku-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>HRKU-AA[A-Za-z0-9_-]{58}"
                           ")(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "discord-webhook",
                .description = "Discord webhook URL",
                .hint = "delete the webhook in the channel settings",
                .keywords = KW("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
                .pattern = "(?<secret>discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/"
                           "[A-Za-z0-9_-]{60,68})(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "square-token",
                .description = "Square access token or OAuth application secret",
                .hint = "rotate it in the Square developer dashboard",
                .keywords = KW("sq0atp-", "sq0csp-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>(?:sq0atp-[A-Za-z0-9_-]{"
                           "22}|sq0csp-[A-Za-z0-9_-]{43}))(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "mailchimp-api-key",
                .description = "Mailchimp API key",
                .hint = "revoke it in the Mailchimp account",
                .keywords = KW("-us"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9]))(?<secret>[a-f0-9]{32}-us[0-9]{1,2})"
                           "(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "alibaba-access-key-id",
                .description = "Alibaba Cloud AccessKey id (LTAI)",
                .hint = "disable the AccessKey in the RAM console",
                .keywords = KW("ltai"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9]))(?<secret>LTAI[A-Za-z0-9]{12,20})(?!"
                           "[A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "notion-token",
                .description = "Notion integration token (ntn_)",
                .hint = "rotate it in the Notion integration settings",
                .keywords = KW("ntn_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ntn_[0-9]{11}[A-Za-z0-9]{"
                           "35})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "figma-pat",
                .description = "Figma personal access token",
                .hint = "revoke it in Figma settings",
                .keywords = KW("figd_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>figd_[A-Za-z0-9_-]{40})(?"
                           "![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "buildkite-token",
                .description = "Buildkite API access token",
                .hint = "revoke it in Buildkite",
                .keywords = KW("bkua_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>bkua_[a-f0-9]{40})(?![A-"
                           "Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "mapbox-secret-token",
                .description = "Mapbox secret access token (sk.)",
                .hint = "revoke it in Mapbox; public pk. tokens are not secrets",
                .keywords = KW("sk.eyj"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_.-]))(?<secret>sk\\.eyJ[A-Za-z0-9_-]{"
                           "20,300}\\.[A-Za-z0-9_-]{20,100})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "contentful-pat",
                .description = "Contentful personal access token",
                .hint = "revoke it in Contentful",
                .keywords = KW("cfpat-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>CFPAT-[A-Za-z0-9_-]{43})"
                           "(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "rubygems-api-key",
                .description = "RubyGems API key",
                .hint = "revoke it on rubygems.org",
                .keywords = KW("rubygems_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>rubygems_[a-f0-9]{48})(?!"
                           "[A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "dockerhub-token",
                .description = "Docker Hub personal or organization access token",
                .hint = "revoke it in Docker Hub",
                .keywords = KW("dckr_pat_", "dckr_oat_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dckr_(?:pat|oat)_[A-Za-"
                           "z0-9_-]{27,32})(?![A-Za-z0-9_-])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "tailscale-key",
                .description = "Tailscale API, auth or OAuth client key",
                .hint = "revoke it in the Tailscale admin console",
                .keywords = KW("tskey-"),
                .pattern =
                        "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>tskey-(?:api|auth|client|"
                        "scim|webhook)-[A-Za-z0-9]{8,20}-[A-Za-z0-9]{20,64})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "groq-api-key",
                .description = "Groq API key",
                .hint = "revoke it in the Groq console",
                .keywords = KW("gsk_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>gsk_[A-Za-z0-9]{52})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "replicate-api-token",
                .description = "Replicate API token",
                .hint = "revoke it in Replicate",
                .keywords = KW("r8_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>r8_[A-Za-z0-9]{37})(?![A-"
                           "Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "xai-api-key",
                .description = "xAI API key",
                .hint = "revoke it in the xAI console",
                .keywords = KW("xai-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>xai-[A-Za-z0-9]{80})(?!["
                           "A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "perplexity-api-key",
                .description = "Perplexity API key",
                .hint = "revoke it in the Perplexity settings",
                .keywords = KW("pplx-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>pplx-[A-Za-z0-9]{48})(?!"
                           "[A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "brevo-api-key",
                .description = "Brevo (Sendinblue) API key",
                .hint = "revoke it in Brevo",
                .keywords = KW("xkeysib-"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>xkeysib-[a-f0-9]{64}-[A-"
                           "Za-z0-9]{16})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "dynatrace-token",
                .description = "Dynatrace API token",
                .hint = "revoke it in Dynatrace",
                .keywords = KW("dt0c01."),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>dt0c01\\.[A-Z0-9]{24}\\.["
                           "A-Z0-9]{64})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "langsmith-api-key",
                .description = "LangSmith API key",
                .hint = "revoke it in LangSmith",
                .keywords = KW("lsv2_pt_", "lsv2_sk_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>lsv2_(?:pt|sk)_[a-f0-9]{"
                           "32}_[a-f0-9]{10})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "braintree-access-token",
                .description = "Braintree / PayPal access token",
                .hint = "revoke it in the Braintree control panel",
                .keywords = KW("access_token$"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>access_token\\$(?:"
                           "production|sandbox)\\$[a-z0-9]{16}\\$[a-f0-9]{32})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "firebase-cloud-messaging-key",
                .description = "Firebase Cloud Messaging legacy server key",
                .hint = "delete the key in the Firebase console",
                .keywords = KW("apa91b"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_-]))(?<secret>AAAA[A-Za-z0-9_-]{7}:"
                           "APA91b[A-Za-z0-9_-]{100,200})(?![A-Za-z0-9_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "jfrog-api-key",
                .description = "JFrog Artifactory API key",
                .hint = "revoke it in JFrog",
                .keywords = KW("akcp"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9]))(?<secret>AKCp[A-Za-z0-9]{69})(?![A-"
                           "Za-z0-9])",
                .min_entropy = 3.5,
                .check = token_check,
        },
        {
                .id = "sourcegraph-token",
                .description = "Sourcegraph access token",
                .hint = "revoke it in Sourcegraph",
                .keywords = KW("sgp_"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>sgp_(?:[a-f0-9]{16}_|"
                           "local_)?[a-f0-9]{40})(?![A-Za-z0-9])",
                .min_entropy = 3.0,
                .check = token_check,
        },
        {
                .id = "1password-service-account-token",
                .description = "1Password service account token",
                .hint = "revoke it in 1Password",
                .keywords = KW("ops_eyj"),
                .pattern = "(?:(?<=\\\\[nrt])|(?<![A-Za-z0-9_]))(?<secret>ops_eyJ[A-Za-z0-9+/"
                           "_-]{250,}={0,2})(?![A-Za-z0-9+/=_-])",
                .min_entropy = 3.5,
                .check = token_check,
        },
};

const size_t scan_token_rules_n = sizeof(scan_token_rules) / sizeof(scan_token_rules[0]);
