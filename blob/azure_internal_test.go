package blob

import (
	"errors"
	"testing"
)

func TestParseAzureConnString(t *testing.T) {
	cases := []struct {
		in                string
		account, endpoint string
		key, sas          bool
	}{
		{"DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey=a2V5;EndpointSuffix=core.windows.net",
			"acct1", "https://acct1.blob.core.windows.net", true, false},
		{"AccountName=acct1;AccountKey=a2V5", "acct1", "https://acct1.blob.core.windows.net", true, false},
		{"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;",
			"devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1", true, false},
		{"UseDevelopmentStorage=true", "devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1", true, false},
		{"BlobEndpoint=https://acct2.blob.core.windows.net;SharedAccessSignature=sv=2020&sig=x%3D",
			"acct2", "https://acct2.blob.core.windows.net", false, true},
		{" accountname = acct3 ; endpointsuffix = core.chinacloudapi.cn ", "acct3", "https://acct3.blob.core.chinacloudapi.cn", false, false},
	}
	for _, tc := range cases {
		cs, err := parseAzureConnString(tc.in)
		if err != nil || cs.Account != tc.account || cs.Endpoint != tc.endpoint || cs.HasKey != tc.key || cs.HasSAS != tc.sas {
			t.Errorf("parseAzureConnString(%q) = %+v, %v; want %s %s key %v sas %v", tc.in, cs, err, tc.account, tc.endpoint, tc.key, tc.sas)
		}
	}
	for _, bad := range []string{"AccountKey=a2V5", "no equals sign", "DefaultEndpointsProtocol=https"} {
		if cs, err := parseAzureConnString(bad); err == nil {
			t.Errorf("parseAzureConnString(%q) = %+v, want an error", bad, cs)
		}
	}
}

func TestResolveAzureAuth(t *testing.T) {
	conn := "AccountName=acct1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/acct1"
	cases := []struct {
		name     string
		cfg      AzureConfig
		mode     azureAuthMode
		account  string
		endpoint string
	}{
		{"connection string alone", AzureConfig{ConnectionString: conn}, azureAuthConnString, "acct1", "http://127.0.0.1:1/acct1"},
		{"same account named", AzureConfig{ConnectionString: conn, Account: "acct1", Key: "x"}, azureAuthConnString, "acct1", "http://127.0.0.1:1/acct1"},
		{"other account: its key", AzureConfig{ConnectionString: conn, Account: "acct2", Key: "eA=="}, azureAuthSharedKey, "acct2", "https://acct2.blob.core.windows.net"},
		{"other account, no key: a token", AzureConfig{ConnectionString: conn, Account: "acct2"}, azureAuthToken, "acct2", "https://acct2.blob.core.windows.net"},
		{"account and key", AzureConfig{Account: "acct3", Key: "eA==", Endpoint: "http://127.0.0.1:2/acct3"}, azureAuthSharedKey, "acct3", "http://127.0.0.1:2/acct3"},
		{"explicit endpoint beats the string's", AzureConfig{ConnectionString: conn, Endpoint: "http://127.0.0.1:3/acct1"}, azureAuthConnString, "acct1", "http://127.0.0.1:3/acct1"},
	}
	for _, tc := range cases {
		mode, account, endpoint, err := resolveAzureAuth(tc.cfg)
		if err != nil || mode != tc.mode || account != tc.account || endpoint != tc.endpoint {
			t.Errorf("%s: resolveAzureAuth = %v %q %q, %v; want %v %q %q", tc.name, mode, account, endpoint, err, tc.mode, tc.account, tc.endpoint)
		}
	}
	for _, cfg := range []AzureConfig{{}, {Account: "Bad!"}, {ConnectionString: "garbage"}} {
		if _, _, _, err := resolveAzureAuth(cfg); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("resolveAzureAuth(%+v) = %v, want ErrInvalidURL", cfg, err)
		}
	}
}

func TestIsAzureURL(t *testing.T) {
	for s, want := range map[string]bool{
		"az://c/p": true, "AZBLOB://c": true, "wasbs://c@a.blob.core.windows.net/p": true, "abfss://x": true,
		"wasb://x": true, "abfs://x": true, "s3://b/p": false, "/tmp/az://x": false, "az:c": false, "": false,
	} {
		if got := IsAzureURL(s); got != want {
			t.Errorf("IsAzureURL(%q) = %v, want %v", s, got, want)
		}
	}
}
