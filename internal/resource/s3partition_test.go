package resource

import (
	"net/http"
	"testing"
)

// TestS3PartitionOfURL checks where a bucket's region is first asked
// (the region HeadBucket is signed for): an s3:// URL means a bucket in
// the instance's partition, starting at the instance's region; an ARN
// names its partition, and the instance's region is used only when it is
// in that partition.
func TestS3PartitionOfURL(t *testing.T) {
	tests := []struct {
		name, url, home, bucketRegion, wantStart string
	}{
		{"s3 URL on an instance in China", "s3://b/k", "cn-northwest-1", "cn-north-1", "cn-northwest-1"},
		{"s3 URL on an instance in GovCloud", "s3://b/k", "us-gov-east-1", "us-gov-west-1", "us-gov-east-1"},
		{"s3 URL in the aws partition", "s3://b/k", "eu-west-3", "eu-west-1", "eu-west-3"},
		{"s3 URL, region unknown", "s3://b/k", "", "eu-west-1", "us-east-1"},
		{"aws ARN on an instance in China", "arn:aws:s3:::b/k", "cn-northwest-1", "eu-west-1", "us-east-1"},
		{"aws-cn ARN on an instance elsewhere", "arn:aws-cn:s3:::b/k", "eu-west-3", "cn-northwest-1", "cn-north-1"},
		{"aws-cn ARN on an instance in China", "arn:aws-cn:s3:::b/k", "cn-northwest-1", "cn-north-1", "cn-northwest-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeS3(t)
			fs.put("b", "k", []byte("x"))
			fs.set(func(fs *fakeS3) { fs.regions["b"] = tt.bucketRegion })
			fi := newFakeIMDS(t, "role", tt.home)
			f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
			if _, err := f.FetchBytes(s3TestContext(t), Request{URL: tt.url}, 1<<20); err != nil {
				t.Fatal(err)
			}
			heads := fs.requests(http.MethodHead, false)
			gets := fs.requests(http.MethodGet, true)
			if len(heads) != 1 || len(gets) != 1 {
				t.Fatalf("%d HeadBucket and %d GetObject requests, want 1 and 1", len(heads), len(gets))
			}
			if _, region := signedAs(heads[0].header); region != tt.wantStart {
				t.Errorf("HeadBucket signed for %q, want %q", region, tt.wantStart)
			}
			if _, region := signedAs(gets[0].header); region != tt.bucketRegion {
				t.Errorf("GetObject signed for %q, want the bucket's region %q", region, tt.bucketRegion)
			}
		})
	}
}
