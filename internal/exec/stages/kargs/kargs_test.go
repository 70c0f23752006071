package kargs

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

type recorder struct {
	argv [][]string
	err  error
}

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.argv = append(r.argv, argv)
	return r.err
}

func TestArgv(t *testing.T) {
	var c types.Config
	c.KernelArguments = types.KernelArguments{
		ShouldExist:    []string{"console=ttyS0,115200", "quiet"},
		ShouldNotExist: []string{"rhgb"},
	}
	rec := &recorder{}
	var logs bytes.Buffer
	if err := Run(context.Background(), c, Env{Commands: rec, Log: log.NewWithSink(log.NewWriterSink(&logs))}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"ignition-kargs-helper",
		"--should-exist", "console=ttyS0,115200", "--should-exist", "quiet",
		"--should-not-exist", "rhgb"}}
	if !reflect.DeepEqual(rec.argv, want) {
		t.Errorf("got %q\nwant %q", rec.argv, want)
	}
	if !strings.Contains(logs.String(), "[finished] running ignition-kargs-helper (2 to add, 1 to remove)") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestOnlyShouldNotExist(t *testing.T) {
	var c types.Config
	c.KernelArguments.ShouldNotExist = []string{"a", "b"}
	want := []string{"ignition-kargs-helper", "--should-not-exist", "a", "--should-not-exist", "b"}
	if got := Argv(c.KernelArguments); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNothingToDo(t *testing.T) {
	rec := &recorder{}
	var logs bytes.Buffer
	if err := Run(context.Background(), types.Config{}, Env{Commands: rec, Log: log.NewWithSink(log.NewWriterSink(&logs))}); err != nil {
		t.Fatal(err)
	}
	if len(rec.argv) != 0 {
		t.Errorf("ran %q", rec.argv)
	}
	if !strings.Contains(logs.String(), "no kernel arguments to change") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestHelperFailure(t *testing.T) {
	var c types.Config
	c.KernelArguments.ShouldExist = []string{"quiet"}
	err := Run(context.Background(), c, Env{Commands: &recorder{err: errors.New("exit status 1")}})
	if err == nil || !strings.Contains(err.Error(), "kernelArguments") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error %v", err)
	}
}
