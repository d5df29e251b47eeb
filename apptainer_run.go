package imgsave

import (
	"errors"

	"github.com/imgsave/imgsave/loader"
)

// checkSIFEnv refuses, as an *OptionError, a variable that Apptainer
// cannot set in the container as given (see loader.CheckSIFEnv).
func checkSIFEnv(env []string) error {
	var ee *loader.EnvError
	if err := loader.CheckSIFEnv(env); errors.As(err, &ee) {
		return &OptionError{Option: "Env", Value: ee.Var, Want: ee.Want}
	} else if err != nil {
		return err
	}
	return nil
}
