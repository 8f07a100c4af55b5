// Command hello is built by testenv's tests to exercise Binary.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hello", len(os.Args)-1)
}
