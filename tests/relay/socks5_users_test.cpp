#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "relay/users.hpp"

namespace pp::relay {
namespace {

TEST(Socks5Users, ParsesLinesCommentsAndBlanks) {
    Users u;
    ASSERT_TRUE(u.load_text("# operators\n\nalice:pa:ss\r\nbob:x\n").ok());
    EXPECT_EQ(u.size(), 2u);
    EXPECT_TRUE(u.authenticate("alice", "pa:ss"));
    EXPECT_TRUE(u.authenticate("bob", "x"));
    EXPECT_FALSE(u.authenticate("bob", "y"));
    EXPECT_FALSE(u.authenticate("bob", "xx"));
    EXPECT_FALSE(u.authenticate("carol", "x"));
    EXPECT_FALSE(u.authenticate("", ""));
}

TEST(Socks5Users, BadFileKeepsTheOldTable) {
    Users u;
    ASSERT_TRUE(u.load_text("alice:one\n").ok());
    EXPECT_FALSE(u.load_text("alice:two\nno colon here\n").ok());
    EXPECT_FALSE(u.load_text(":empty-user\n").ok());
    EXPECT_FALSE(u.load_text("empty-password:\n").ok());
    EXPECT_FALSE(u.load_text(std::string(256, 'u') + ":p\n").ok());
    EXPECT_FALSE(u.load_text("u:" + std::string(256, 'p') + "\n").ok());
    EXPECT_FALSE(u.load_text("a:1\na:2\n").ok());
    EXPECT_TRUE(u.authenticate("alice", "one"));
    EXPECT_FALSE(u.authenticate("alice", "two"));
    EXPECT_TRUE(u.load_text(std::string(255, 'u') + ":" + std::string(255, 'p')).ok());
    EXPECT_TRUE(u.authenticate(std::string(255, 'u'), std::string(255, 'p')));
}

TEST(Socks5Users, LoadsFromFileAndReportsMissing) {
    auto path = std::filesystem::temp_directory_path() / "pp_socks5_users_test";
    std::ofstream(path) << "carol:pw\n";
    Users u;
    ASSERT_TRUE(u.load(path.string()).ok());
    EXPECT_TRUE(u.authenticate("carol", "pw"));
    std::filesystem::remove(path);
    EXPECT_FALSE(u.load(path.string()).ok());
    EXPECT_TRUE(u.authenticate("carol", "pw"));
}

}  // namespace
}  // namespace pp::relay
